"""Where and in which precision a transformers model runs: one resolver for every loader.

`resolve_device("auto")` is cuda when a GPU is available, else cpu; asking for cuda without one
is refused. `resolve_dtype` maps "float32", "bfloat16", "float16" to torch dtypes and keeps
"auto" (the checkpoint's own dtype) for `from_pretrained`.
"""

from __future__ import annotations

import torch

DTYPES = ("float32", "bfloat16", "float16", "auto")


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    if str(device) == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    resolved = torch.device(device)
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {str(device)!r} asked for, but no CUDA GPU is available; use --device cpu")
    return resolved


def resolve_dtype(dtype: str) -> torch.dtype | str:
    if dtype == "auto":
        return "auto"
    if dtype not in DTYPES:
        raise ValueError(f"unknown dtype {dtype!r}; known: {', '.join(DTYPES)}")
    return getattr(torch, dtype)
