#!/usr/bin/env bash
# ProGRPO with verl: verl's DAPO recipe (recipe/dapo/test_dapo_7b_math.sh) with the advantage estimator
# switched to "progrpo" and the paper's Table 1 settings (n = 8, batch 512 / mini-batch 32, clip [0.8, 1.28],
# no KL, no entropy bonus, T = 1.0, 8192 response tokens, lr 1e-6, alpha 0.3).
#
# Needs verl 0.9 and this package on every node: pip install -e '.[verl]'. verl then loads the plugin
# (progrpo_train.integrations.verl) in every process by itself, through the package's "verl.plugins"
# entry point; without entry points, export VERL_USE_EXTERNAL_MODULES=progrpo_train.integrations.verl.
#
# One node (8 GPUs):
#   bash examples/verl_progrpo.sh
# Many nodes on Ray: start the cluster, then launch on the head node with the node count; verl places
# the actor, rollout and reference workers on all NNODES x NGPUS_PER_NODE GPUs and computes the
# advantages of the whole batch on the driver, so every group is complete however the batch is spread.
#   head node:        ray start --head --port=6379 --dashboard-host=0.0.0.0
#   every other node: ray start --address=<head-ip>:6379
#   head node:        NNODES=4 bash examples/verl_progrpo.sh
#   (or from anywhere: ray job submit --address=http://<head-ip>:8265 -- env NNODES=4 bash examples/verl_progrpo.sh)
# PROGRPO_PRINT_OVERRIDES=1 prints the Hydra overrides, one a line, instead of launching.
set -euo pipefail

project_name=${PROJECT_NAME:-ProGRPO}
exp_name=${EXP_NAME:-ProGRPO-Qwen2.5-7B-DAPO-Math}

NNODES=${NNODES:-1}
NGPUS_PER_NODE=${NGPUS_PER_NODE:-8}
DATA_HOME=${DATA_HOME:-"${HOME}/verl"}
MODEL_PATH=${MODEL_PATH:-"${DATA_HOME}/models/Qwen2.5-7B"}
TRAIN_FILE=${TRAIN_FILE:-"${DATA_HOME}/data/dapo-math-17k.parquet"}
TEST_FILE=${TEST_FILE:-"${DATA_HOME}/data/aime-2024.parquet"}
CKPTS_DIR=${CKPTS_DIR:-"${DATA_HOME}/ckpts/${project_name}/${exp_name}"}

# ProGRPO (Eq. 4): the knobs of progrpo_advantages, under algorithm.progrpo.
alpha=${ALPHA:-0.3}                  # Tab. 6
reweight=${REWEIGHT:-prompt}         # c(q) - c(o); group_mean (App. A), exploratory (Sec. 4.5), absolute (Tab. 7)
gate=${GATE:-mixed}                  # Algorithm 1: 0 < #correct < G; any_correct: Eq. 4 as printed
correct_key=acc                      # the DAPO reward manager's correctness, not the shaped score

max_prompt_length=$((1024 * 2))
max_response_length=$((1024 * 8))    # Table 1 "Max Response Length"
enable_overlong_buffer=${ENABLE_OVERLONG_BUFFER:-False}  # DAPO's recipe: True with 4096 tokens; the paper: none
overlong_buffer_len=$((1024 * 4))
train_prompt_bsz=512                 # Table 1 "Train Batch Size"
n_resp_per_prompt=8                  # Table 1 "Number of Rollouts" (DAPO's recipe: 16)
train_prompt_mini_bsz=32             # Table 1 "PPO Mini-batch Size"

sp_size=${SP_SIZE:-4}
gen_tp=${GEN_TP:-4}
offload=${OFFLOAD:-True}
actor_ppo_max_token_len=$(((max_prompt_length + max_response_length) * 2))
infer_ppo_max_token_len=$(((max_prompt_length + max_response_length) * 3))

overrides=(
    trainer.use_v1=False  # the hook that hands the estimator the prompt's log-probs wraps RayPPOTrainer
    data.train_files="${TRAIN_FILE}"
    data.val_files="${TEST_FILE}"
    data.prompt_key=prompt
    data.truncation=left
    data.max_prompt_length=${max_prompt_length}
    data.max_response_length=${max_response_length}
    data.train_batch_size=${train_prompt_bsz}
    actor_rollout_ref.rollout.n=${n_resp_per_prompt}
    algorithm.adv_estimator=progrpo
    +algorithm.progrpo.alpha=${alpha}
    +algorithm.progrpo.reweight=${reweight}
    +algorithm.progrpo.gate=${gate}
    +algorithm.progrpo.low_prob_fraction=0.2
    +algorithm.progrpo.correct_key=${correct_key}
    algorithm.norm_adv_by_std_in_grpo=True
    algorithm.use_kl_in_reward=False
    algorithm.kl_ctrl.kl_coef=0.0
    actor_rollout_ref.actor.use_kl_loss=False
    actor_rollout_ref.actor.kl_loss_coef=0.0
    actor_rollout_ref.actor.clip_ratio_low=0.2
    actor_rollout_ref.actor.clip_ratio_high=0.28
    actor_rollout_ref.actor.clip_ratio_c=10.0
    actor_rollout_ref.actor.loss_agg_mode=token-mean
    actor_rollout_ref.actor.entropy_coeff=0
    actor_rollout_ref.model.path="${MODEL_PATH}"
    actor_rollout_ref.model.use_remove_padding=True
    actor_rollout_ref.model.enable_gradient_checkpointing=True
    actor_rollout_ref.actor.optim.lr=1e-6
    actor_rollout_ref.actor.optim.weight_decay=0.1
    actor_rollout_ref.actor.ppo_mini_batch_size=${train_prompt_mini_bsz}
    actor_rollout_ref.actor.grad_clip=1.0
    actor_rollout_ref.actor.use_dynamic_bsz=True
    actor_rollout_ref.actor.ppo_max_token_len_per_gpu=${actor_ppo_max_token_len}
    actor_rollout_ref.ref.log_prob_use_dynamic_bsz=True
    actor_rollout_ref.ref.log_prob_max_token_len_per_gpu=${infer_ppo_max_token_len}
    actor_rollout_ref.rollout.log_prob_use_dynamic_bsz=True
    actor_rollout_ref.rollout.log_prob_max_token_len_per_gpu=${infer_ppo_max_token_len}
    actor_rollout_ref.actor.ulysses_sequence_parallel_size=${sp_size}
    actor_rollout_ref.ref.ulysses_sequence_parallel_size=${sp_size}
    actor_rollout_ref.actor.fsdp_config.param_offload=${offload}
    actor_rollout_ref.actor.fsdp_config.optimizer_offload=${offload}
    actor_rollout_ref.ref.fsdp_config.param_offload=${offload}
    actor_rollout_ref.rollout.name=vllm
    actor_rollout_ref.rollout.gpu_memory_utilization=0.80
    actor_rollout_ref.rollout.tensor_model_parallel_size=${gen_tp}
    actor_rollout_ref.rollout.enable_chunked_prefill=True
    actor_rollout_ref.rollout.max_num_batched_tokens=$((max_prompt_length + max_response_length))
    actor_rollout_ref.rollout.temperature=1.0
    actor_rollout_ref.rollout.top_p=1.0
    actor_rollout_ref.rollout.top_k=-1
    actor_rollout_ref.rollout.val_kwargs.temperature=0.6
    actor_rollout_ref.rollout.val_kwargs.top_p=0.95
    actor_rollout_ref.rollout.val_kwargs.do_sample=True
    actor_rollout_ref.rollout.val_kwargs.n=1
    reward.reward_manager.name=dapo
    +reward.reward_kwargs.overlong_buffer_cfg.enable=${enable_overlong_buffer}
    +reward.reward_kwargs.overlong_buffer_cfg.len=${overlong_buffer_len}
    +reward.reward_kwargs.overlong_buffer_cfg.penalty_factor=1.0
    +reward.reward_kwargs.overlong_buffer_cfg.log=False
    +reward.reward_kwargs.max_resp_len=${max_response_length}
    trainer.logger=[console,wandb]
    trainer.project_name="${project_name}"
    trainer.experiment_name="${exp_name}"
    trainer.n_gpus_per_node=${NGPUS_PER_NODE}
    trainer.nnodes=${NNODES}
    trainer.val_before_train=True
    trainer.test_freq=10
    trainer.save_freq=50
    trainer.total_training_steps=500
    trainer.default_local_dir="${CKPTS_DIR}"
    trainer.resume_mode=auto
)

if [[ "${PROGRPO_PRINT_OVERRIDES:-0}" == 1 ]]; then
    printf '%s\n' "${overrides[@]}"
    exit 0
fi
exec python3 -m verl.trainer.main_ppo "${overrides[@]}" "$@"
