"""Fine-tune BERT for a few steps with WattlmCallback: energy in the logs and the model card.

    python examples/bert_finetune.py                   # tiny local BERT on examples/data, CPU
    python examples/bert_finetune.py --model ./my-bert-checkpoint --max-steps 200

The Trainer's logs gain energy_kwh, emissions_kg, power_w and, after the first tenth of the
steps, projected_energy_kwh (with _low/_high), projected_emissions_kg and projected_duration_s.
At the end the run is in the wattlm store (``wattlm runs``) and OUTPUT_DIR/README.md carries
``co2_eq_emissions`` in grams.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from _tiny_bert import checkpoint_dir, load_model, load_reviews, positive_int, run_example


class ReviewDataset:
    """Tokenised reviews as a map-style dataset for the Trainer."""

    def __init__(self, tokenizer: Any, texts: list[str], labels: list[int]) -> None:
        self.encoded = tokenizer(texts, truncation=True, padding="max_length", max_length=24)
        self.labels = labels

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, i: int) -> dict[str, Any]:
        import torch

        item = {k: torch.tensor(v[i]) for k, v in self.encoded.items()}
        item["labels"] = torch.tensor(self.labels[i])
        return item


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=checkpoint_dir,
                        help="local checkpoint directory (default: a tiny BERT built here)")
    parser.add_argument("--output-dir", default="wattlm-bert-finetune",
                        help="where the Trainer writes; README.md there gets co2_eq_emissions")
    parser.add_argument("--region", default="FR",
                        help="grid region for emissions (default: FR; see `wattlm regions`)")
    parser.add_argument("--max-steps", type=positive_int, default=40,
                        help="optimiser steps (default: 40)")
    parser.add_argument("--batch-size", type=positive_int, default=16,
                        help="sentences per step (default: 16)")
    args = parser.parse_args(argv)

    from transformers import Trainer, TrainingArguments

    from wattlm._format import format_duration
    from wattlm.integrations.transformers import WattlmCallback
    from wattlm.units import Energy

    texts, labels = load_reviews()
    model, tokenizer, what = load_model(args.model, texts)
    print(f"model: {what}", file=sys.stderr)
    split = int(len(texts) * 0.8)
    train = ReviewDataset(tokenizer, texts[:split], labels[:split])
    val = ReviewDataset(tokenizer, texts[split:], labels[split:])
    training_args = TrainingArguments(
        output_dir=args.output_dir, max_steps=args.max_steps,
        per_device_train_batch_size=args.batch_size, per_device_eval_batch_size=32,
        learning_rate=5e-4, logging_steps=max(args.max_steps // 8, 1), eval_strategy="steps",
        eval_steps=max(args.max_steps // 2, 1), save_strategy="no", report_to=[],
        use_cpu=args.model is None, disable_tqdm=True, seed=0)
    callback = WattlmCallback(region=args.region, project="bert-finetune")
    trainer = Trainer(model=model, args=training_args, train_dataset=train, eval_dataset=val)
    callback.attach(trainer)  # ahead of the reporting callbacks; the card keeps co2_eq_emissions
    trainer.train()
    record = callback.result
    if record is None:
        print(f"not measured: {callback.not_measuring}", file=sys.stderr)
        return 0
    first = callback.projections[0] if callback.projections else None
    if first is not None:
        print(f"projection at step {first.step}/{first.max_steps}: "
              f"{Energy.of(first.energy_j)}")
    elif callback.projection_note:
        print(callback.projection_note)
    print(f"run {record.id}: {record.energy}, {record.emissions} CO2e ({record.provenance}), "
          f"{format_duration(record.duration_s)}")
    for phase in record.phases:
        print(f"  phase {phase.name}: {phase.energy} in {format_duration(phase.duration_s)}")
    print(f"model card: {callback.model_card_path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(run_example(main, __file__))
