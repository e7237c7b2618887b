"""The offline tiny model: deterministic, loadable by transformers, vLLM-compatible shape."""

import hashlib
import json

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from progrpo_eval.tiny_model import TinyModelSpec, build_tiny_model


def _digest(directory):
    files = ["model.safetensors", "tokenizer.json", "config.json"]
    return {name: hashlib.sha256((directory / name).read_bytes()).hexdigest() for name in files}


def test_same_seed_gives_identical_files_and_another_seed_does_not(tmp_path, tiny_model_dir):
    again = build_tiny_model(tmp_path / "again", seed=0)
    other = build_tiny_model(tmp_path / "other", seed=1)
    assert _digest(again) == _digest(tiny_model_dir)
    assert _digest(other)["model.safetensors"] != _digest(again)["model.safetensors"]


def test_shape_fits_vllm_cpu_and_long_contexts(tiny_model_dir):
    config = json.loads((tiny_model_dir / "config.json").read_text())
    assert config["model_type"] == "qwen2"
    assert config["hidden_size"] // config["num_attention_heads"] >= 32
    assert config["max_position_embeddings"] >= 4096


def test_chat_template_and_round_trip(tiny_model_dir):
    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    rendered = tokenizer.apply_chat_template(
        [{"role": "user", "content": "What is $1+1$?"}], add_generation_prompt=True, tokenize=False
    )
    assert rendered == "<|im_start|>user\nWhat is $1+1$?<|im_end|>\n<|im_start|>assistant\n"
    text = "Compute \\frac{1}{2} + 0.25 = \\boxed{0.75}. ünïcödé"
    assert tokenizer.decode(tokenizer(text)["input_ids"]) == text
    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    ids = tokenizer(text, return_tensors="pt")["input_ids"]
    assert model(ids).logits.shape == (1, ids.shape[1], len(tokenizer))


def test_tokenizer_trains_on_given_files(tmp_path):
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("zebra quantum zebra quantum " * 200)
    directory = build_tiny_model(tmp_path / "m", text_files=[corpus], spec=TinyModelSpec(vocab_size=300))
    tokenizer = AutoTokenizer.from_pretrained(directory)
    assert len(tokenizer("zebra quantum")["input_ids"]) <= 3


def test_random_model_is_not_uniform(tiny_model_dir):
    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    logits = model(torch.arange(20)[None]).logits
    entropy = -(logits.log_softmax(-1).exp() * logits.log_softmax(-1)).sum(-1)
    assert entropy.mean() < 0.8 * torch.log(torch.tensor(float(logits.shape[-1])))
