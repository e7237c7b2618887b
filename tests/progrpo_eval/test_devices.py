"""The one device/dtype resolver (rescoring and the hf backend load models through it)."""

import pytest
import torch

from progrpo_eval.devices import resolve_device, resolve_dtype


def test_resolve_dtype_names_the_known_ones():
    assert resolve_dtype("bfloat16") is torch.bfloat16 and resolve_dtype("auto") == "auto"
    with pytest.raises(ValueError, match="unknown dtype 'float8'; known: float32, bfloat16, float16, auto"):
        resolve_dtype("float8")


def test_resolve_device_auto_and_a_missing_gpu():
    assert resolve_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")
    assert resolve_device("cpu") == torch.device("cpu")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="no CUDA GPU is available; use --device cpu"):
            resolve_device("cuda:1")
