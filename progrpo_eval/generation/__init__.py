"""Generation backends behind one interface (`base.Backend`): vLLM and transformers.

vLLM is imported only inside its backend, so everything else works without it.
"""

from progrpo_eval.generation.base import Backend, Completion, SamplingSettings, derived_seed, load_backend

__all__ = ["Backend", "Completion", "SamplingSettings", "derived_seed", "load_backend"]
