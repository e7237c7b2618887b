"""transformers backend: `generate` with the same outputs as the vLLM backend.

Prompts are left-padded into batches of up to `max_batch_sequences` sequences (n per prompt via
num_return_sequences); each batch is seeded from its prompts' seeds. Unlike vLLM's per-request
seeds, a prompt's samples therefore depend on which prompts share its batch. Log-probs
are the raw T = 1 model's log-softmax of each sampled token (as vLLM's default), computed from
the unprocessed logits; top-k log-probs likewise.
"""

from __future__ import annotations

import torch

from progrpo_eval.devices import resolve_device, resolve_dtype
from progrpo_eval.generation.base import Completion, SamplingSettings, derived_seed


class HFBackend:
    name = "hf"

    max_batch_sequences = 256  # sequences per generate call

    def __init__(self, model, tokenizer, *, device: str | torch.device | None = None):
        """Sample from a model object already in memory (the trainer's policy: nothing to sync)."""
        self.model, self.tokenizer = model, tokenizer
        self.device = device or next(model.parameters()).device
        self.stop_ids = self._stop_ids()

    @classmethod
    def from_pretrained(cls, model: str, *, dtype: str = "auto", device: str | None = None, **_ignored) -> "HFBackend":
        """Load a local directory or Hub id (the evaluator's backend)."""
        from transformers import AutoModelForCausalLM, AutoTokenizer

        torch_dtype = resolve_dtype(dtype)
        device = resolve_device(device or "auto")
        tokenizer = AutoTokenizer.from_pretrained(model)
        loaded = AutoModelForCausalLM.from_pretrained(model, dtype=torch_dtype).to(device).eval()
        return cls(loaded, tokenizer, device=device)

    def _stop_ids(self) -> set[int]:
        configured = self.model.generation_config.eos_token_id
        ids = set(configured if isinstance(configured, list) else [configured] if configured is not None else [])
        if self.tokenizer.eos_token_id is not None:
            ids.add(self.tokenizer.eos_token_id)
        return ids

    @torch.no_grad()
    def generate(self, prompts: list[list[int]], settings: SamplingSettings, *, seeds: list[int] | None = None,
                 use_tqdm: bool = True, **_):
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
            for start in tqdm(range(0, len(prompts), per_call), desc="hf generate", unit="batch", disable=not use_tqdm):
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
        output = self.model.generate(
            input_ids.to(self.device),
            attention_mask=attention_mask.to(self.device),
            do_sample=not greedy,
            temperature=None if greedy else settings.temperature,
            top_p=None if greedy else settings.top_p,
            top_k=None,
            max_new_tokens=settings.max_tokens,
            num_return_sequences=settings.n,
            eos_token_id=sorted(self.stop_ids),
            pad_token_id=pad_id,
            output_logits=True,
            return_dict_in_generate=True,
        )
        new_tokens = output.sequences[:, width:]  # [P * n, L]
        raw_logprobs = torch.log_softmax(torch.stack(output.logits, dim=1).float(), dim=-1)  # [P * n, L, V]
        completions = [self._completion(new_tokens[i], raw_logprobs[i], settings) for i in range(new_tokens.shape[0])]
        return [completions[i * settings.n : (i + 1) * settings.n] for i in range(len(prompts))]

    def _completion(self, tokens: torch.Tensor, logprobs: torch.Tensor, settings: SamplingSettings) -> Completion:
        token_list = tokens.tolist()
        length = len(token_list)
        finish = "length"
        for position, token in enumerate(token_list):
            if token in self.stop_ids:
                length, finish = position + 1, "stop"
                break
        token_list = token_list[:length]
        sampled = logprobs[:length].gather(-1, tokens[:length, None]).squeeze(-1).tolist()
        top = None
        if settings.top_logprobs > 0:
            values, indices = logprobs[:length].topk(settings.top_logprobs, dim=-1)
            top = [dict(zip(i.tolist(), v.tolist())) for i, v in zip(indices, values)]
        text = self.tokenizer.decode(token_list, skip_special_tokens=True)
        return Completion(token_ids=token_list, text=text, logprobs=sampled, finish_reason=finish, top_logprobs=top)

    def prompt_logprobs(self, prompts: list[list[int]]) -> list[list[float]]:
        from progrpo_eval.logprobs import prompt_response_logprobs

        rows = prompt_response_logprobs(self.model, prompts, [[] for _ in prompts], pad_id=0)
        return [row.prompt for row in rows]

    def close(self) -> None:
        self.model = None
