"""transformers backend: `generate` with the same outputs as the vLLM backend.

The n samples of a prompt are one batch (num_return_sequences), sampled with a generator
seeded per prompt, so results do not depend on which other prompts share a run. Log-probs
are the raw T = 1 model's log-softmax of each sampled token (as vLLM's default), computed from
the unprocessed logits; top-k log-probs likewise.
"""

from __future__ import annotations

import torch

from progrpo_eval.generation.base import Completion, SamplingSettings


def _device() -> str:
    return "cuda" if torch.cuda.is_available() else "cpu"


class HFBackend:
    name = "hf"

    def __init__(self, model: str, *, dtype: str = "auto", device: str | None = None, **_ignored):
        from transformers import AutoModelForCausalLM, AutoTokenizer

        torch_dtype = "auto" if dtype == "auto" else getattr(torch, dtype)
        self.device = device or _device()
        self.tokenizer = AutoTokenizer.from_pretrained(model)
        self.model = AutoModelForCausalLM.from_pretrained(model, dtype=torch_dtype).to(self.device).eval()
        self.stop_ids = self._stop_ids()

    @classmethod
    def from_model(cls, model, tokenizer) -> "HFBackend":
        """Sample from a model object already in memory (the trainer's policy: nothing to sync)."""
        backend = cls.__new__(cls)
        backend.model, backend.tokenizer = model, tokenizer
        backend.device = next(model.parameters()).device
        backend.stop_ids = backend._stop_ids()
        return backend

    def _stop_ids(self) -> set[int]:
        configured = self.model.generation_config.eos_token_id
        ids = set(configured if isinstance(configured, list) else [configured] if configured is not None else [])
        if self.tokenizer.eos_token_id is not None:
            ids.add(self.tokenizer.eos_token_id)
        return ids

    @torch.no_grad()
    def generate(self, prompts: list[list[int]], settings: SamplingSettings, *, seeds: list[int] | None = None,
                 use_tqdm: bool = True, **_):
        from tqdm.auto import tqdm

        seeds = seeds or [settings.seed + i for i in range(len(prompts))]
        was_training = self.model.training
        self.model.eval()
        try:
            pairs = tqdm(list(zip(prompts, seeds)), desc="hf generate", unit="prompt", disable=not use_tqdm)
            return [self._sample(prompt, settings, seed) for prompt, seed in pairs]
        finally:
            self.model.train(was_training)

    def _sample(self, prompt: list[int], settings: SamplingSettings, seed: int) -> list[Completion]:
        input_ids = torch.tensor([prompt], device=self.device)
        torch.manual_seed(seed)
        greedy = settings.temperature == 0
        output = self.model.generate(
            input_ids,
            attention_mask=torch.ones_like(input_ids),
            do_sample=not greedy,
            temperature=None if greedy else settings.temperature,
            top_p=None if greedy else settings.top_p,
            top_k=None,
            max_new_tokens=settings.max_tokens,
            num_return_sequences=settings.n,
            eos_token_id=sorted(self.stop_ids),
            pad_token_id=self.tokenizer.pad_token_id or next(iter(self.stop_ids)),
            output_logits=True,
            return_dict_in_generate=True,
        )
        new_tokens = output.sequences[:, len(prompt) :]  # [n, L]
        raw_logprobs = torch.log_softmax(torch.stack(output.logits, dim=1).float(), dim=-1)  # [n, L, V]
        return [self._completion(new_tokens[i], raw_logprobs[i], settings) for i in range(settings.n)]

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
