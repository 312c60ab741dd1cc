"""``wattlm serve-bench URL``: energy per token of an OpenAI-compatible server, per load level."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from wattlm.cli.runs import add_db_option

__all__ = ["register"]


def register(sub: Any) -> None:
    """Add the ``serve-bench`` command."""
    from wattlm.cli._output import add_format_option

    parser = sub.add_parser(
        "serve-bench", help="energy per token of a running OpenAI-compatible server",
        description="Send a streamed workload to an OpenAI-compatible server (vLLM, TGI, "
        "llama.cpp, Ollama, transformers serve) at one or more load levels and measure, in each "
        "level's steady state (ramp-up and drain excluded), J per output token and per request, "
        "throughput, TTFT and inter-token latency, power and the idle power. One stored run per "
        "level. Method: docs/serving.md.")
    parser.add_argument("url", help="server base URL, e.g. http://127.0.0.1:8000 (or .../v1)")
    parser.add_argument("--model", help="model name to request (default: the first of "
                        "/v1/models); also used for the estimator comparison")
    load = parser.add_mutually_exclusive_group()
    load.add_argument("--rate", metavar="R[,R...]",
                      help="Poisson arrivals, requests/s; a comma list sweeps (1,2,4,8)")
    load.add_argument("--concurrency", metavar="C[,C...]",
                      help="fixed requests in flight; a comma list sweeps (default 1)")
    parser.add_argument("--duration", type=float, default=30.0, metavar="S",
                        help="steady-state window per level, seconds (default 30)")
    parser.add_argument("--ramp-up", type=float, metavar="S",
                        help="load before the window, excluded (default 10%% of --duration, "
                        "1 to 30 s)")
    parser.add_argument("--drain-timeout", type=float, default=30.0, metavar="S",
                        help="wait for in-flight requests after the window, then cancel "
                        "(default 30)")
    parser.add_argument("--idle", type=float, default=2.0, metavar="S",
                        help="seconds without requests before each level: idle power "
                        "(default 2; 0 skips)")
    parser.add_argument("--endpoint", choices=["chat", "completions"], default="chat",
                        help="/v1/chat/completions (default) or /v1/completions")
    parser.add_argument("--input-tokens", type=int, default=128,
                        help="mean prompt length of synthetic prompts, words ~ tokens "
                        "(default 128)")
    parser.add_argument("--output-tokens", type=int, default=64,
                        help="mean max_tokens per request (default 64)")
    parser.add_argument("--length-dist", choices=["fixed", "uniform", "exponential"],
                        default="fixed", help="lengths around the means (default fixed)")
    parser.add_argument("--prompts", metavar="JSONL",
                        help="prompts file: one {\"prompt\": ...} or {\"messages\": [...]} per "
                        "line, optional max_tokens")
    parser.add_argument("--ignore-eos", action="store_true",
                        help="send ignore_eos (vLLM) so every request generates max_tokens")
    parser.add_argument("--max-requests", type=int, default=100_000,
                        help="stop sending after this many requests per level (default 100000)")
    parser.add_argument("--timeout", type=float, default=300.0, metavar="S",
                        help="per-request timeout (default 300)")
    parser.add_argument("--seed", type=int, default=0, help="seed of lengths, words, arrivals")
    target = parser.add_mutually_exclusive_group()
    target.add_argument("--pid", type=int, help="measure this server process and its children "
                        "(plus whole-machine GPU/RAPL counters)")
    target.add_argument("--start", metavar="CMD", help="start the server with CMD, measure its "
                        "process tree, stop it afterwards")
    parser.add_argument("--start-timeout", type=float, default=300.0, metavar="S",
                        help="how long --start waits for the server to answer (default 300)")
    parser.add_argument("--hardware", help="accelerator for the estimator comparison (default: "
                        "the GPUs measured; see `wattlm hardware`)")
    parser.add_argument("--region", help="grid location for the stored runs' emissions")
    parser.add_argument("--interval", type=float, metavar="S",
                        help="seconds between samples (default 1.0)")
    add_db_option(parser)
    parser.add_argument("--no-save", action="store_true", help="do not store the runs")
    parser.add_argument("--report", metavar="FILE", help="write a report with plots: .html or "
                        ".md")
    add_format_option(parser)
    parser.set_defaults(handler=handle)


def _config(args: argparse.Namespace) -> Any:
    from wattlm.serving.bench import BenchConfig
    from wattlm.serving.loadgen import parse_levels
    from wattlm.serving.workload import Workload, load_prompts

    if args.rate is not None:
        levels = parse_levels("rate", args.rate, "--rate")
    else:
        concurrency = "1" if args.concurrency is None else args.concurrency
        levels = parse_levels("concurrency", concurrency, "--concurrency")
    workload = Workload(
        endpoint=args.endpoint, input_tokens=args.input_tokens, output_tokens=args.output_tokens,
        distribution=args.length_dist, seed=args.seed,
        prompts=(load_prompts(args.prompts, args.output_tokens) if args.prompts is not None
                 else None),
        extra_body=(("ignore_eos", True),) if args.ignore_eos else ())
    return BenchConfig(url=args.url, levels=tuple(levels), workload=workload, model=args.model,
                       duration_s=args.duration, ramp_s=args.ramp_up,
                       drain_timeout_s=args.drain_timeout, idle_s=args.idle,
                       max_requests=args.max_requests, request_timeout_s=args.timeout,
                       hardware=args.hardware)


def _check_report_path(path: str | None) -> None:
    from pathlib import Path

    from wattlm.errors import InvalidInputError

    if path is None:
        return
    target = Path(path)
    if target.suffix.lower() not in (".html", ".htm", ".md"):
        raise InvalidInputError(f"--report writes .html or .md, got {path!r}")
    if not target.parent.exists():
        raise InvalidInputError(f"cannot write {path}: directory {target.parent} does not exist")


def _check_options(args: argparse.Namespace) -> None:
    """The options that no later step checks, in one line each, before any connection."""
    from wattlm import _validate
    from wattlm.errors import InvalidInputError

    if args.model is not None:
        args.model = _validate.text(args.model, "model", origin="argument --model")
    _validate.count(args.seed, "seed", origin="argument --seed")
    if args.start is not None:
        args.start = _validate.text(args.start, "start", origin="argument --start",
                                    max_length=4_000)
    _validate.positive(args.start_timeout, "start_timeout_s", origin="argument --start-timeout",
                       unit="seconds", high=86_400.0)
    if args.hardware is not None:
        from wattlm.catalog.hardware import get_hardware

        get_hardware(args.hardware)  # unknown: "did you mean", exit 2 before the load
    if args.region is not None:
        from wattlm.carbon.intensity import resolve_region

        resolve_region(args.region)  # unknown: "did you mean", before the load
    if not args.no_save:
        from wattlm.cli.runs import check_db_for_writing

        check_db_for_writing(args.db)
    if args.pid is not None:
        import psutil

        pid = _validate.count(args.pid, "pid", origin="argument --pid", low=1)
        if not psutil.pid_exists(pid):
            raise InvalidInputError(f"--pid {pid}: no such process")


def handle(args: argparse.Namespace) -> int:
    """Check everything, then run the levels and print them."""
    from wattlm.cli._output import emit
    from wattlm.config import resolve_settings
    from wattlm.serving.bench import check_server, run_bench
    from wattlm.serving.client import base_url

    config = _config(args)  # strict at the door: bad levels, lengths, prompts file
    _check_report_path(args.report)
    _check_options(args)
    settings = resolve_settings(region=args.region, project="serve-bench",
                                interval_s=args.interval, db=args.db,
                                save=False if args.no_save else None)
    if args.start:
        from wattlm.serving.server import ManagedServer

        with ManagedServer(args.start, base_url(args.url) + "/v1/models",
                           start_timeout_s=args.start_timeout) as server:
            info = check_server(config)
            levels = run_bench(config, settings, server=info, pid=server.pid)
    else:
        info = check_server(config)  # unreachable / not OpenAI-compatible: exit 2, no load
        levels = run_bench(config, settings, server=info, pid=args.pid)
    if args.report:
        from wattlm.serving.report import write_report

        write_report(levels, args.report)
        print(f"wattlm: report written to {args.report}", file=sys.stderr)
    emit(levels, args.format, _human)
    return 0


def _human(levels: list[dict[str, Any]]) -> str:
    """The levels as a table, with the window rule, the estimates and the warnings."""
    from wattlm.cli._output import table
    from wattlm.serving.bench import EXCLUDED
    from wattlm.serving.report import HEADERS, estimate_line, row

    lines = [table(HEADERS, [row(lv) for lv in levels]), "", f"note: {EXCLUDED}."]
    lines += [estimate_line(lv) for lv in levels]
    lines += [f"warning {w}" for lv in levels for w in lv.get("warnings", [])]
    return "\n".join(lines)
