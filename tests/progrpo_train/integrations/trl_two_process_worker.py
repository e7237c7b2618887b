"""One rank of test_trl.py's 2-process run: half of one group of 8 per rank, its batch written to JSON."""

import json
import sys
from pathlib import Path

import torch
from datasets import Dataset
from transformers import AutoModelForCausalLM, AutoTokenizer

from progrpo_train.integrations.trl import ProGRPOConfig, ProGRPOTrainer


def coin_reward(completion_ids, **_):
    return [float(hash(tuple(ids)) % 2) for ids in completion_ids]


def main(model_dir: str, out_dir: str) -> None:
    dataset = Dataset.from_dict({"prompt": [[{"role": "user", "content": "What is 2 + 1?"}]]})
    config = ProGRPOConfig(
        output_dir=out_dir,
        per_device_train_batch_size=4,
        num_generations=8,
        max_completion_length=8,
        use_cpu=True,
        report_to="none",
        seed=0,
        alpha=0.3,
        max_steps=1,
        save_strategy="no",
    )
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32)
    trainer = ProGRPOTrainer(
        model=model,
        reward_funcs=[coin_reward],
        args=config,
        train_dataset=dataset,
        processing_class=AutoTokenizer.from_pretrained(model_dir),
    )
    trainer.model.train()
    rank = trainer.accelerator.process_index
    assert trainer.accelerator.num_processes == 2
    torch.manual_seed(rank)  # the two halves of the group differ
    output = trainer._generate_and_score_completions([dataset[0]] * 4)
    lengths = output["completion_mask"].sum(dim=1).tolist()
    record = {
        "prompts": [ids[mask.bool()].tolist() for ids, mask in zip(output["prompt_ids"], output["prompt_mask"])],
        "completions": [ids[:n].tolist() for ids, n in zip(output["completion_ids"], lengths)],
        "advantages": output["advantages"].tolist(),
    }
    (Path(out_dir) / f"rank{rank}.json").write_text(json.dumps(record))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
