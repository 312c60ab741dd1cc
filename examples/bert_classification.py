"""BERT sequence classification, measured end to end with wattlm.

The classic Transformers tutorial step (classify sentences with a BERT model), with the energy
of loading and of inference measured:

    python examples/bert_classification.py                       # tiny local BERT, no hub
    python examples/bert_classification.py --model ./my-bert-checkpoint
    wattlm run -- python examples/bert_classification.py         # the whole process measured
"""

from __future__ import annotations

import argparse
import json
import sys

from _tiny_bert import checkpoint_dir, load_model, load_reviews, positive_int, run_example

import wattlm


def default_device() -> str:
    """``cuda:0`` when torch sees a GPU, else ``cpu``."""
    import torch

    return "cuda:0" if torch.cuda.is_available() else "cpu"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=checkpoint_dir,
                        help="local checkpoint directory (default: a tiny BERT built here)")
    parser.add_argument("--region", default="FR",
                        help="grid region for emissions (default: FR; see `wattlm regions`)")
    parser.add_argument("--device", default=None,
                        help="cpu, cuda, cuda:1 ... (default: cuda:0 when a GPU is visible)")
    parser.add_argument("--batch-size", type=positive_int, default=16,
                        help="sentences per batch (default: 16)")
    parser.add_argument("--limit", type=positive_int, default=128,
                        help="sentences to classify (default: 128)")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    args = parser.parse_args(argv)

    from transformers import pipeline

    from wattlm._format import format_duration, format_number, format_quantity
    from wattlm.integrations.transformers import measure_inference

    texts, _ = load_reviews()
    texts = texts[: args.limit]
    with wattlm.track(region=args.region, project="bert-classification") as run:
        with run.phase("load"):
            model, tokenizer, what = load_model(args.model, texts)
        print(f"model: {what}", file=sys.stderr)
        classifier = pipeline("text-classification", model=model, tokenizer=tokenizer,
                              device=args.device or default_device())
        print(classifier("the film was wonderful ."))
        report = measure_inference(classifier, texts, batch_size=args.batch_size)
    record = run.result
    assert record is not None
    if args.json:
        print(json.dumps({"inference": report.to_dict(), "run": {
            "id": record.id, "energy_kwh": record.energy_kwh,
            "emissions_kg": record.emissions_kg, "duration_s": record.duration_s}}))
        return 0
    print(f"classified {report.items} sentences ({report.input_tokens} tokens) "
          f"in {report.batches} batches on {report.device}")
    print(f"energy per sentence: {format_quantity(report.energy_per_item_j, 'energy_j')}, "
          f"per token: {format_quantity(report.energy_per_token_j, 'energy_j')} "
          f"({report.provenance})")
    print(f"throughput: {format_number(report.items_per_s)} sentences/s, "
          f"batch latency p50 {format_duration(report.latency_p50_s)}, "
          f"p95 {format_duration(report.latency_p95_s)}")
    print(f"whole run {record.id}: {record.energy}, {record.emissions} CO2e in "
          f"{format_duration(record.duration_s)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(run_example(main, __file__))
