"""The process group: starting it, and the few collectives the trainer and checkpoints use.

On a machine without CUDA, DeepSpeed runs on its CPU accelerator (`DS_ACCELERATOR=cpu`) with a
`gloo` process group; a single process started without a launcher gets RANK/WORLD_SIZE/MASTER_*
defaults. Every helper also works when no process group exists (one process).
"""

from __future__ import annotations

import os
import socket

import torch


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def init_distributed() -> tuple[int, int]:
    """Start (or join) the process group; returns (rank, world size)."""
    if not torch.cuda.is_available():
        os.environ.setdefault("DS_ACCELERATOR", "cpu")
    for key, value in (("RANK", "0"), ("LOCAL_RANK", "0"), ("WORLD_SIZE", "1"), ("MASTER_ADDR", "127.0.0.1")):
        os.environ.setdefault(key, value)
    os.environ.setdefault("MASTER_PORT", str(free_port()))
    import deepspeed

    if not torch.distributed.is_initialized():
        deepspeed.init_distributed(dist_backend="nccl" if torch.cuda.is_available() else "gloo")
    if torch.cuda.is_available():
        torch.cuda.set_device(int(os.environ["LOCAL_RANK"]))
    return torch.distributed.get_rank(), torch.distributed.get_world_size()


def _is_parallel() -> bool:
    return torch.distributed.is_initialized() and torch.distributed.get_world_size() > 1


def rank() -> int:
    return torch.distributed.get_rank() if torch.distributed.is_initialized() else 0


def is_main() -> bool:
    return rank() == 0


def barrier() -> None:
    if torch.distributed.is_initialized():
        torch.distributed.barrier()


def _collective_device() -> torch.device:
    """Where a collective's tensors must live: the GPU under NCCL, the CPU under gloo."""
    backend = torch.distributed.get_backend() if torch.distributed.is_initialized() else "gloo"
    return torch.device("cuda", torch.cuda.current_device()) if backend == "nccl" else torch.device("cpu")


def all_reduce_sum(value: float) -> float:
    """`value` summed over every process (float64, so counts stay exact)."""
    tensor = torch.tensor([value], dtype=torch.float64, device=_collective_device())
    if _is_parallel():
        torch.distributed.all_reduce(tensor)
    return float(tensor.item())


def all_gather(tensor: torch.Tensor) -> torch.Tensor:
    """Every process's `tensor` (same shape everywhere), concatenated in rank order along dim 0."""
    if not _is_parallel():
        return tensor
    local = tensor.to(_collective_device()).contiguous()
    parts = [torch.empty_like(local) for _ in range(torch.distributed.get_world_size())]
    torch.distributed.all_gather(parts, local)
    return torch.cat(parts).to(tensor.device)
