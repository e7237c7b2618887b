"""`make demo`: the paper's diversity claim, measured on a toy task with many right answers, on CPU.

    python -m progrpo_train.demo            # quick: 3 seeds, 30 RL steps (make demo)
    python -m progrpo_train.demo --full     # the committed report: 3 seeds, 100 RL steps (make demo-full)

The claim (Sec. 4.4, App. A.1 and A.5): GRPO gives every correct response of a group the same
advantage, so the answers the policy already prefers grow fastest and probability collapses onto
few of them; ProGRPO's term alpha (c(q) - c(o)) gives over-confident correct answers less, so
probability stays spread over several correct answers, with higher entropy and Pass@k and
comparable Pass@1.

THE PLAN, fixed before any RL run was made (changing it means saying so in the README):
- Task: `progrpo_eval.benchmarks.toy`, "Name a multiple of K between A and B." (K 2..9, 3 to 21
  correct answers per prompt), answered as "35 = 7 x 5, so \\boxed{35}" and scored by the `toy`
  scorer (1 if the box holds a multiple of K in [A, B], else 0). 4096 training prompts; the 256
  held-out evaluation prompts are different (K, A, B) triples.
- Warm start (`progrpo_train.sft`, one per seed): the tiny Qwen2 (4 layers, width 128, head_dim
  64), 300 AdamW steps (lr 1e-3, 32 sequences) imitating a uniformly drawn correct answer. The one
  number tuned, on the warm start alone: 300 steps leave the seed-0 model right about half of the
  time at T = 1 (issue 9: RL starts from mixed groups). The demo measures and prints the start.
- RL (`progrpo_train/recipes/demo_toy.yaml`): the same recipe for both methods, GRPO being its
  variant `demo_toy:grpo_verl` (algorithm.advantage grpo, nothing else); ProGRPO alpha 0.3,
  c(q) - c(o), gate "mixed". G = 8 at T = 1, 16 prompts a step, 2 updates a step, lr 1e-4, clip
  [0.8, 1.28], no KL, no entropy bonus. quick: 30 steps, seeds 0, 1, 2 (planned with 60; cut to
  30 for time alone, when its first run took 28.7 CPU-minutes, over the 10-minute budget on 2
  cores). full: 100 steps, seeds 0, 1, 2 (planned with 200 steps and seeds 0 to 4, evaluated with
  vLLM; cut before it was run, for time alone: that is about 70 minutes on 2 cores, more than the
  session that made the committed report had left; hf evaluates the tiny model as fast). A seed
  sets the warm start, the data order and the rollouts; GRPO and ProGRPO of one seed share all three.
- Evaluation (`progrpo-eval run --bench toy --k 32`, the paper's T = 0.6, top-p 0.95): quick the
  first 64 evaluation prompts, full all 256; then `progrpo-eval rescore --entropy exact`.
- Measured on every final checkpoint (and the warm starts): Pass@1 and Pass@k (k = 1 ... 32),
  rollout entropy, distinct correct answers per prompt (among the 32 samples), Self-BLEU and
  Distinct-2 over correct answers (per prompt, macro average), and the exact probability of
  naming each correct answer, a response opening "v =" (`analysis.answer_distribution`): its
  total, and its spread as an effective number of answers, exp(entropy). (Before any result:
  first the whole reference wording; changed to its opening because the warm start often writes
  a wrong factor in the check "v = K x m", which the scorer rightly ignores.)
- Over seeds: each method's mean with a 95 % t-interval; paired differences ProGRPO - GRPO per
  seed (same warm start), their mean with a 95 % t-interval and the number of seeds where
  ProGRPO is ahead; per seed, `progrpo-eval compare`'s paired bootstrap over prompts.

What the toy cannot show: anything about reasoning, long responses, real models or scale. A
1M-parameter model on one arithmetic task; the numbers say whether the mechanism works as the
paper describes on a task built to let it, nothing more.

Modules: `plan` (presets, paths, command lines), `jobs` (subprocesses with progress bars), `args`,
`analysis` (the start state, the answer distribution, per-run metrics), `seeds` (aggregation over
seeds and the headline table), `pipeline` (the phases), `real` (`make demo-real`).
"""
