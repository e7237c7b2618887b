"""Data parallelism: N copies of a backend in worker processes, prompts split round-robin.

vLLM's offline `LLM` has no data parallelism of its own, so each copy is one spawned process
that sees only its own GPUs (CUDA_VISIBLE_DEVICES, `tensor_parallel_size` each). Per-prompt
seeds travel with the prompts, so the samples do not depend on the number of copies.
Workers ignore SIGINT: a terminal's Ctrl-C reaches the whole job, and the parent alone handles
it (it kills copies that are still generating instead of waiting for them).
"""

from __future__ import annotations

import multiprocessing
import os
import signal

from progrpo_eval.generation.base import SamplingSettings


def _worker(connection, name: str, model: str, devices: list[int] | None, options: dict) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if devices is not None:
        os.environ["CUDA_VISIBLE_DEVICES"] = ",".join(map(str, devices))
    from progrpo_eval.generation.base import load_backend

    backend = load_backend(name, model, **options)
    connection.send(("ready", None))
    while True:
        message = connection.recv()
        if message is None:
            break
        method, args, kwargs = message
        try:
            connection.send(("ok", getattr(backend, method)(*args, **kwargs)))
        except Exception as error:  # sent back and re-raised in the parent
            connection.send(("error", f"{type(error).__name__}: {error}"))
    backend.close()


class DataParallelBackend:
    def __init__(self, name: str, model: str, *, data_parallel_size: int, tensor_parallel_size: int = 1, **options):
        import torch

        self.name = name
        context = multiprocessing.get_context("spawn")
        gpus = torch.cuda.device_count()
        if gpus and gpus < data_parallel_size * tensor_parallel_size:
            raise ValueError(
                f"data_parallel_size {data_parallel_size} x tensor_parallel_size {tensor_parallel_size} "
                f"needs {data_parallel_size * tensor_parallel_size} GPUs, found {gpus}"
            )
        if name == "vllm":
            options["tensor_parallel_size"] = tensor_parallel_size
        self.connections, self.processes = [], []
        self._busy = False  # a request is out and not all replies are in
        for rank in range(data_parallel_size):
            devices = list(range(rank * tensor_parallel_size, (rank + 1) * tensor_parallel_size)) if gpus else None
            parent, child = context.Pipe()
            process = context.Process(target=_worker, args=(child, name, model, devices, options))
            process.start()
            self.connections.append(parent)
            self.processes.append(process)
        for connection in self.connections:
            self._receive(connection)

    def _receive(self, connection):
        status, payload = connection.recv()
        if status == "error":
            raise RuntimeError(f"a data-parallel worker failed: {payload}")
        return payload

    def _scatter(self, method: str, prompts: list, extra: list | None, **kwargs) -> list:
        size = len(self.connections)
        self._busy = True
        for rank, connection in enumerate(self.connections):
            shard_kwargs = dict(kwargs)
            if extra is not None:
                shard_kwargs["seeds"] = extra[rank::size]
            connection.send((method, (prompts[rank::size],), shard_kwargs))
        shards = [self._receive(connection) for connection in self.connections]
        self._busy = False
        merged = [None] * len(prompts)
        for rank, shard in enumerate(shards):
            merged[rank::size] = shard
        return merged

    def generate(self, prompts: list[list[int]], settings: SamplingSettings, *, seeds: list[int] | None = None, **_):
        seeds = seeds or [settings.seed + i for i in range(len(prompts))]
        return self._scatter("generate", prompts, seeds, settings=settings)

    def prompt_logprobs(self, prompts: list[list[int]]) -> list[list[float]]:
        return self._scatter("prompt_logprobs", prompts, None)

    def close(self) -> None:
        """Stop the copies: after their current request normally, at once when interrupted during one."""
        if self._busy:
            for process in self.processes:
                process.kill()
        for connection in self.connections:
            try:
                connection.send(None)
            except (BrokenPipeError, OSError):
                continue
        for process in self.processes:
            process.join(timeout=60)
            if process.is_alive():
                process.kill()
        self.connections, self.processes = [], []
