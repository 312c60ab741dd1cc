"""Window accounting, percentiles, knee, workloads and the report, with hand-computed values."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from wattlm.errors import InvalidInputError
from wattlm.serving.client import RequestResult, base_url
from wattlm.serving.loadgen import Level, LevelTrace, parse_levels
from wattlm.serving.report import render
from wattlm.serving.stats import knee_index, percentiles, window_stats
from wattlm.serving.workload import Workload, load_prompts


def test_percentiles_match_numpy_linear() -> None:
    values = [1.0, 2.0, 3.0, 4.0, 10.0]
    # rank (n-1)p: p50 -> 2 -> 3.0; p95 -> 3.8 -> 4 + 0.8*6 = 8.8; p99 -> 3.96 -> 9.76
    assert percentiles(values) == pytest.approx({"p50": 3.0, "p95": 8.8, "p99": 9.76})
    assert percentiles([]) == {"p50": None, "p95": None, "p99": None}
    assert percentiles([7.0]) == {"p50": 7.0, "p95": 7.0, "p99": 7.0}


def test_window_counts_only_what_happened_inside() -> None:
    trace = LevelTrace(level=Level("concurrency", 2), started_s=0.0, window_start_s=10.0,
                       window_end_s=20.0)
    trace.results = [
        # 4 chunks, 8 usage tokens: 3 chunks inside the window -> 6 tokens; ends inside
        RequestResult(start_s=8.0, end_s=12.5, token_times_s=[9.0, 10.5, 11.0, 12.0],
                      output_tokens=8, input_tokens=5),
        # starts inside, ends after the window: 2 of 4 chunks inside -> 2 tokens (no usage)
        RequestResult(start_s=18.0, end_s=22.0, token_times_s=[18.5, 19.5, 20.5, 21.5]),
        # failed: not counted in tokens, counted as failed
        RequestResult(start_s=11.0, end_s=11.1, error="HTTP 500: boom"),
    ]
    stats = window_stats(trace)
    assert stats.output_tokens == pytest.approx(6.0 + 2.0)
    assert stats.requests_completed == 1 and stats.requests_started == 1
    assert stats.requests_failed == 1 and stats.errors == ("HTTP 500: boom",)
    assert stats.ttft_s["p50"] == pytest.approx(0.5)  # the request that started inside
    assert stats.itl_s["p50"] == pytest.approx(1.0)
    # in flight: 2.5 s + 2 s + 0.1 s over a 10 s window
    assert stats.mean_concurrency == pytest.approx(0.46)
    assert stats.token_source == "usage and stream chunks"
    assert stats.throughput_tokens_per_s == pytest.approx(0.8)


def test_knee_of_a_falling_convex_curve() -> None:
    # J/token falls fast then flattens. In the unit square x = 0, .3, .7, .9, 1 and
    # y = 1, .314, .0286, .0057, 0; the chord is y = 1 - x, so the points lie below it by
    # .386, .271, .094 (over sqrt 2): the elbow is the second point (400 tokens/s)
    points = [(100, 10.0), (400, 4.0), (800, 1.5), (1000, 1.3), (1100, 1.25)]
    assert knee_index(points) == 1
    assert knee_index(points[::-1]) == 3  # the same point, indexed as given
    assert knee_index([(1, 3.0), (2, 2.0), (3, 1.0)]) is None  # a straight line
    assert knee_index([(12.8, 114), (16, 96), (22.4, 75)]) is None  # nearly straight
    assert knee_index([(1, 1.0), (2, 2.0), (3, 3.0)]) is None  # rising: no batching gain
    assert knee_index([(1, 1.0), (2, 2.0)]) is None


def test_levels_and_urls() -> None:
    assert [lv.value for lv in parse_levels("rate", "1,2.5,8", "--rate")] == [1, 2.5, 8]
    with pytest.raises(InvalidInputError, match="--rate: rate must be > 0"):
        parse_levels("rate", "1,0", "--rate")
    with pytest.raises(InvalidInputError, match="numbers separated by commas"):
        parse_levels("concurrency", "four", "--concurrency")
    assert base_url("http://127.0.0.1:8000/v1/") == "http://127.0.0.1:8000"
    assert base_url("http://h:1/proxy/v1/chat/completions") == "http://h:1/proxy"
    with pytest.raises(InvalidInputError, match="must look like http"):
        base_url("127.0.0.1:8000")


def test_workload_lengths_and_bodies() -> None:
    body = next(Workload(input_tokens=5, output_tokens=7).stream())
    assert len(body["messages"][0]["content"].split()) == 5 and body["max_tokens"] == 7
    assert body["stream"] is True and body["stream_options"] == {"include_usage": True}
    uniform = Workload(input_tokens=100, output_tokens=100, distribution="uniform", seed=3)
    stream = uniform.stream()
    lengths = [next(stream)["max_tokens"] for _ in range(200)]
    assert 50 <= min(lengths) and max(lengths) <= 150
    assert 90 <= sum(lengths) / len(lengths) <= 110
    completion = next(Workload(endpoint="completions", input_tokens=3).stream())
    assert len(completion["prompt"].split()) == 3 and "messages" not in completion
    with pytest.raises(InvalidInputError, match="output tokens must be a whole number"):
        Workload(output_tokens=0)


def test_prompts_file_errors_name_the_line(tmp_path: Path) -> None:
    path = tmp_path / "p.jsonl"
    path.write_text('{"prompt": "a"}\nnot json\n')
    with pytest.raises(InvalidInputError, match="p.jsonl:2: not valid JSON"):
        load_prompts(path)
    path.write_text('{"messages": [{"role": "user"}]}\n')
    with pytest.raises(InvalidInputError, match="p.jsonl:1: each message needs"):
        load_prompts(path)
    path.write_text('{"prompt": "a", "max_tokens": -1}\n')
    with pytest.raises(InvalidInputError, match="max_tokens must be a whole number"):
        load_prompts(path)
    with pytest.raises(InvalidInputError, match="prompts file .*missing.jsonl does not exist"):
        load_prompts(tmp_path / "missing.jsonl")
    (tmp_path / "latin1.jsonl").write_bytes(b'{"prompt": "caf\xe9"}\n')
    with pytest.raises(InvalidInputError, match="is not UTF-8 text"):
        load_prompts(tmp_path / "latin1.jsonl")
    path.write_text("\n\n")
    with pytest.raises(InvalidInputError, match="holds no prompt"):
        load_prompts(path)


def _level(label: str, tps: float, jpt: float, knee: bool = False) -> dict:
    q = {"p50": 0.01, "p95": 0.02, "p99": 0.03}
    return {"label": label, "run_id": 1, "url": "http://x", "model": "<m>",
            "energy_per_output_token_j": jpt, "energy_per_request_j": jpt * 10,
            "throughput_tokens_per_s": tps, "ttft_s": q, "itl_s": q, "power_w": 100.0,
            "idle_power_w": 20.0, "provenance": "measured", "is_knee": knee,
            "estimate": {"available": False, "reason": "no GPU"}, "warnings": ["W604: x"]}


def test_report_html_has_plots_and_escapes() -> None:
    pytest.importorskip("matplotlib")
    levels = [_level("c 1", 10, 2.0), _level("c 4", 40, 0.6, knee=True), _level("c 8", 60, 0.5)]
    page = render(levels, "html")
    assert page.count("data:image/png;base64,") == 2
    assert "&lt;m&gt;" in page and "<m>" not in page
    assert "c 4 (knee)" in page and "W604: x" in page
    md = render(levels, "md")
    assert "| c 4 (knee) | 1 | 600 mJ | 6.00 J | 40.0 | 10.0 ms | 30.0 ms |" in md
    with pytest.raises(InvalidInputError):
        render([], "md")
    json.dumps(levels)  # the level objects are JSON-ready
