"""A tiny random Qwen2 chat model, built offline, for tests and the demo.

The model has random weights, a byte-level BPE tokenizer trained on the fly with
`tokenizers`, and a ChatML chat template (Qwen's), saved in Hugging Face format so that
vLLM, transformers and DeepSpeed all load it. The same seed gives the same files.
head_dim is 64 (vLLM's CPU attention rejects 16) and the context is 4096 tokens.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

import torch

SPECIAL_TOKENS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<think>", "</think>"]

CHAT_TEMPLATE = (
    "{%- for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' }}"
    "{%- endfor %}"
    "{%- if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{%- endif %}"
)

# Used when no training text is given: enough math English, LaTeX and digits for a BPE
# tokenizer whose merges look like a real one's.
DEFAULT_CORPUS = r"""
Let $x$ be a real number such that $x^2 - 5x + 6 = 0$. Find the sum of all possible values of $x$.
The roots are $x = 2$ and $x = 3$, so the sum is $\boxed{5}$.
Find the number of positive integers $n \le 1000$ such that $n$ is divisible by $3$ or $7$.
By inclusion-exclusion, $333 + 142 - 47 = 428$. The answer is $\boxed{428}$.
A triangle has sides $3$, $4$ and $5$. Compute its area. It is a right triangle, so the area
is $\frac{1}{2} \cdot 3 \cdot 4 = 6$. Therefore the final answer is $\boxed{6}$.
Let $f(x) = \sqrt{x + 1}$. What is $f(8)$? We have $f(8) = \sqrt{9} = 3$.
Please reason step by step, and put your final answer within \boxed{}.
Answer the following multiple choice question. The last line of your response should be
of the form \boxed{LETTER} where LETTER is one of A, B, C, D.
The probability that a fair coin lands heads twice in a row is $\frac{1}{4}$, or $0.25$.
Suppose $a + b = 10$ and $ab = 21$. Then $a^2 + b^2 = (a+b)^2 - 2ab = 100 - 42 = 58$.
The interval of solutions is $(0, \infty)$, i.e. $x > 0$. The units are meters per second.
def solve(n):\n    total = 0\n    for i in range(n):\n        total += i * i\n    return total
"""


@dataclass(frozen=True)
class TinyModelSpec:
    vocab_size: int = 1024
    hidden_size: int = 128
    intermediate_size: int = 256
    num_hidden_layers: int = 2
    num_attention_heads: int = 2  # head_dim = 64
    num_key_value_heads: int = 1
    max_position_embeddings: int = 4096
    tie_word_embeddings: bool = False
    initializer_range: float = 0.02
    logit_scale: float = 32.0  # multiplies lm_head so the random model is not near-uniform


def train_tokenizer(texts: list[str], vocab_size: int):
    """A byte-level BPE `PreTrainedTokenizerFast` trained on `texts`, with ChatML tokens."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    backend = Tokenizer(models.BPE())
    backend.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    backend.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    backend.train_from_iterator(texts, trainer=trainer)
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=backend,
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        additional_special_tokens=["<|im_start|>"],
    )
    tokenizer.chat_template = CHAT_TEMPLATE
    return tokenizer


def build_tiny_model(
    out_dir: str | Path,
    *,
    seed: int = 0,
    text_files: list[str | Path] | None = None,
    spec: TinyModelSpec = TinyModelSpec(),
) -> Path:
    """Write a random tiny Qwen2 chat model (weights, config, tokenizer) to `out_dir`.

    The tokenizer is trained on `text_files` if given, otherwise on a built-in math corpus.
    Deterministic for a seed. Returns the directory.
    """
    from transformers import GenerationConfig, Qwen2Config, Qwen2ForCausalLM

    out_dir = Path(out_dir)
    texts = [Path(f).read_text(encoding="utf-8") for f in text_files] if text_files else [DEFAULT_CORPUS]
    tokenizer = train_tokenizer(texts, spec.vocab_size)
    config = Qwen2Config(
        vocab_size=len(tokenizer),
        hidden_size=spec.hidden_size,
        intermediate_size=spec.intermediate_size,
        num_hidden_layers=spec.num_hidden_layers,
        num_attention_heads=spec.num_attention_heads,
        num_key_value_heads=spec.num_key_value_heads,
        head_dim=spec.hidden_size // spec.num_attention_heads,
        max_position_embeddings=spec.max_position_embeddings,
        tie_word_embeddings=spec.tie_word_embeddings,
        initializer_range=spec.initializer_range,
        bos_token_id=None,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        torch_dtype="float32",
    )
    generator_state = torch.random.get_rng_state()
    torch.manual_seed(seed)
    try:
        model = Qwen2ForCausalLM(config)
        with torch.no_grad():
            model.lm_head.weight.mul_(spec.logit_scale)
    finally:
        torch.random.set_rng_state(generator_state)
    model.generation_config = GenerationConfig(
        eos_token_id=[tokenizer.eos_token_id, tokenizer.pad_token_id],
        pad_token_id=tokenizer.pad_token_id,
    )
    out_dir.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out_dir, safe_serialization=True)
    tokenizer.save_pretrained(out_dir)
    (out_dir / "tiny_model_spec.json").write_text(json.dumps({"seed": seed, **asdict(spec)}, indent=2))
    return out_dir
