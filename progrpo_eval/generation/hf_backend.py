"""transformers backend: `generate` with the same outputs as the vLLM backend.

Prompts are left-padded into batches of up to `max_batch_sequences` sequences (n per prompt via
num_return_sequences); each batch is seeded from its prompts' seeds. Unlike vLLM's per-request
seeds, a prompt's samples therefore depend on which prompts share its batch. Log-probs
are the raw T = 1 model's log-softmax of each sampled token (as vLLM's default), computed from
the unprocessed logits; top-k log-probs likewise.

Decisions:
- Memory does not grow with the vocabulary times the length: a logits processor
  (`StepLogprobs`) keeps, step by step, only what a Completion stores (the sampled token's
  log-prob, and the top-k when asked), plus one step's log-softmax [B, V] until the next step
  says which token was drawn. `generate(output_logits=True)` would keep all [B, L, V] logits
  (5 GB per sequence at 8 192 tokens and a 152k vocabulary; `benchmarks/hf_generation_memory.py`).
- The processor runs before temperature and top-p, on the logits `generate` would return as
  `output_logits`. Penalties that a model's generation_config may ask for (repetition_penalty)
  would come before it; they are switched off, as vLLM's explicit sampling parameters do.
- `max_new_tokens` stops at the model's context (`model_files.config_context_length`, minus the
  batch's longest prompt), as vLLM does, instead of generating past the position embeddings.
"""

from __future__ import annotations

import torch
from transformers import LogitsProcessor

from progrpo_eval.devices import resolve_device, resolve_dtype
from progrpo_eval.generation.base import Completion, SamplingSettings, derived_seed
from progrpo_eval.model_files import config_context_length, load_tokenizer


class StepLogprobs(LogitsProcessor):
    """Records the sampled tokens' raw log-probs (and top-k) during `generate`, one step at a time."""

    def __init__(self, top_k: int = 0):
        self.top_k = top_k
        self.sampled: list[torch.Tensor] = []  # per step: [B]
        self.top_values: list[torch.Tensor] = []  # per step: [B, k]
        self.top_indices: list[torch.Tensor] = []
        self._pending: torch.Tensor | None = None  # [B, V] log-softmax of the step whose token is not drawn yet

    def __call__(self, input_ids: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
        self._take(input_ids[:, -1])  # the token drawn from the previous step's distribution
        logprobs = torch.log_softmax(scores.float(), dim=-1)  # [B, V]
        if self.top_k > 0:
            values, indices = logprobs.topk(self.top_k, dim=-1)
            self.top_values.append(values)
            self.top_indices.append(indices)
        self._pending = logprobs
        return scores

    def _take(self, drawn: torch.Tensor) -> None:
        if self._pending is not None:
            self.sampled.append(self._pending.gather(-1, drawn[:, None]).squeeze(-1))
            self._pending = None

    def finish(self, last_tokens: torch.Tensor) -> torch.Tensor:
        """After `generate`: the last step's token, then every sampled log-prob as [B, L]."""
        self._take(last_tokens)
        return torch.stack(self.sampled, dim=1)


class HFBackend:
    name = "hf"

    max_batch_sequences = 256  # sequences per generate call

    def __init__(self, model, tokenizer, *, device: str | torch.device | None = None):
        """Sample from a model object already in memory (the trainer's policy: nothing to sync)."""
        self.model, self.tokenizer = model, tokenizer
        self.device = device or next(model.parameters()).device
        self.stop_ids = self._stop_ids()
        self.context_length = config_context_length(model.config)

    @classmethod
    def from_pretrained(cls, model: str, *, dtype: str = "auto", device: str | None = None, **_ignored) -> HFBackend:
        """Load a local directory or Hub id (the evaluator's backend)."""
        from transformers import AutoModelForCausalLM

        torch_dtype = resolve_dtype(dtype)
        device = resolve_device(device or "auto")
        tokenizer = load_tokenizer(model)
        loaded = AutoModelForCausalLM.from_pretrained(model, dtype=torch_dtype).to(device).eval()
        return cls(loaded, tokenizer, device=device)

    def _stop_ids(self) -> set[int]:
        configured = self.model.generation_config.eos_token_id
        ids = set(configured if isinstance(configured, list) else [configured] if configured is not None else [])
        if self.tokenizer.eos_token_id is not None:
            ids.add(self.tokenizer.eos_token_id)
        return ids

    @torch.no_grad()
    def generate(
        self,
        prompts: list[list[int]],
        settings: SamplingSettings,
        *,
        seeds: list[int] | None = None,
        use_tqdm: bool = True,
        **_,
    ):
        """settings.n completions per prompt, `max_batch_sequences` sequences per `generate` call.

        Prompts are left-padded into one batch per call; each call is seeded from the seeds of its
        prompts, so the same prompts with the same seeds give the same samples.
        """
        from tqdm.auto import tqdm

        seeds = seeds or [settings.seed + i for i in range(len(prompts))]
        per_call = max(1, self.max_batch_sequences // settings.n)
        was_training = self.model.training
        self.model.eval()
        results: list[list[Completion]] = []
        try:
            for start in tqdm(
                range(0, len(prompts), per_call), desc="hf generate", unit="batch", disable=not use_tqdm, leave=False
            ):
                batch_seed = derived_seed(*seeds[start : start + per_call])
                results.extend(self._sample(prompts[start : start + per_call], settings, batch_seed))
        finally:
            self.model.train(was_training)
        return results

    def _sample(self, prompts: list[list[int]], settings: SamplingSettings, seed: int) -> list[list[Completion]]:
        pad_id = self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None else next(iter(self.stop_ids))
        width = max(len(prompt) for prompt in prompts)
        input_ids = torch.full((len(prompts), width), pad_id, dtype=torch.long)
        attention_mask = torch.zeros_like(input_ids)
        for row, prompt in enumerate(prompts):  # left padding: every prompt ends where generation starts
            input_ids[row, width - len(prompt) :] = torch.tensor(prompt)
            attention_mask[row, width - len(prompt) :] = 1
        torch.manual_seed(seed)
        greedy = settings.temperature == 0
        max_new_tokens = settings.max_tokens
        if self.context_length is not None:
            max_new_tokens = max(1, min(max_new_tokens, self.context_length - width))
        recorder = StepLogprobs(settings.top_logprobs)
        output = self.model.generate(
            input_ids.to(self.device),
            attention_mask=attention_mask.to(self.device),
            do_sample=not greedy,
            temperature=None if greedy else settings.temperature,
            top_p=None if greedy else settings.top_p,
            top_k=None,
            repetition_penalty=1.0,
            max_new_tokens=max_new_tokens,
            num_return_sequences=settings.n,
            eos_token_id=sorted(self.stop_ids),
            pad_token_id=pad_id,
            logits_processor=[recorder],
        )  # [P * n, width + L]
        new_tokens = output[:, width:]  # [P * n, L]
        sampled = recorder.finish(output[:, -1]).cpu()  # [P * n, L]
        top = None
        if settings.top_logprobs > 0:
            top = (torch.stack(recorder.top_values, dim=1).cpu(), torch.stack(recorder.top_indices, dim=1).cpu())
        completions = [
            self._completion(new_tokens[i].cpu(), sampled[i], None if top is None else (top[0][i], top[1][i]))
            for i in range(new_tokens.shape[0])
        ]
        return [completions[i * settings.n : (i + 1) * settings.n] for i in range(len(prompts))]

    def _completion(
        self, tokens: torch.Tensor, sampled: torch.Tensor, top: tuple[torch.Tensor, torch.Tensor] | None
    ) -> Completion:
        """One sequence: tokens [L], their log-probs [L], top-k (values, indices) [L, k] or None."""
        token_list = tokens.tolist()
        length = len(token_list)
        finish = "length"
        for position, token in enumerate(token_list):
            if token in self.stop_ids:
                length, finish = position + 1, "stop"
                break
        token_list = token_list[:length]
        top_logprobs = None
        if top is not None:
            values, indices = top[0][:length], top[1][:length]
            top_logprobs = [dict(zip(i.tolist(), v.tolist())) for i, v in zip(indices, values)]
        text = self.tokenizer.decode(token_list, skip_special_tokens=True)
        return Completion(
            token_ids=token_list,
            text=text,
            logprobs=sampled[:length].tolist(),
            finish_reason=finish,
            top_logprobs=top_logprobs,
        )

    def prompt_logprobs(self, prompts: list[list[int]]) -> list[list[float]]:
        from progrpo_eval.logprobs import prompt_response_logprobs

        rows = prompt_response_logprobs(self.model, prompts, [[] for _ in prompts], pad_id=0)
        return [row.prompt for row in rows]

    def close(self) -> None:
        self.model = None
