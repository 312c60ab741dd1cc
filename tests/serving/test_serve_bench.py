"""serve-bench against a real local HTTP server (the stub in stub_server.py), sensors scripted."""

from __future__ import annotations

import json
import socket
import sys
from pathlib import Path

import pytest

from tests.serving.stub_server import StubOptions, StubServer
from wattlm.cli.main import main
from wattlm.config import resolve_settings
from wattlm.sensors.fake import FakeSensor
from wattlm.serving.bench import BenchConfig, run_bench
from wattlm.serving.loadgen import Level
from wattlm.serving.workload import Workload
from wattlm.store import open_store

INTERFACE = ("energy_per_output_token_j", "energy_per_request_j", "throughput_tokens_per_s",
             "ttft_s", "itl_s", "power_w", "provenance")


def _bench(url: str, levels: list[Level], *, power_w: float = 100.0, duration_s: float = 1.0,
           output_tokens: int = 20, idle_s: float = 0.3, hardware: str | None = None
           ) -> list[dict]:
    config = BenchConfig(url=url, levels=tuple(levels), duration_s=duration_s, ramp_s=0.3,
                         idle_s=idle_s, drain_timeout_s=5.0, hardware=hardware,
                         workload=Workload(input_tokens=10, output_tokens=output_tokens))
    settings = resolve_settings(region="FR", project="serve-bench", interval_s=0.1)
    return run_bench(config, settings, sensors=[FakeSensor("gpu0", power_w=power_w)])


def test_energy_per_token_is_window_energy_over_window_tokens() -> None:
    opt = StubOptions(token_s=0.005, ttft_s=0.05)
    with StubServer(opt) as server:
        (level,) = _bench(server.url, [Level("concurrency", 2)])
    window_s = level["window"]["duration_s"]
    assert window_s == pytest.approx(1.0, abs=0.2)
    # a constant 100 W sensor: the window's energy is 100 W x its length
    assert level["energy_j"] == pytest.approx(100.0 * window_s, rel=0.02)
    assert level["power_w"] == pytest.approx(100.0, rel=0.02)
    assert level["idle_power_w"] == pytest.approx(100.0, rel=0.05)
    assert level["energy_per_output_token_j"] == pytest.approx(
        level["energy_j"] / level["output_tokens"], rel=1e-9)
    assert level["energy_per_request_j"] == pytest.approx(
        level["energy_j"] / level["requests"]["completed_in_window"], rel=1e-9)
    # 2 streams of one token per 5 ms at most: <= 400 tokens/s; the loaded machine is slower
    assert 100 <= level["throughput_tokens_per_s"] <= 410
    assert 0.05 <= level["ttft_s"]["p50"] <= 0.3
    assert 0.0045 <= level["itl_s"]["p50"] <= 0.03
    assert level["ttft_s"]["p50"] <= level["ttft_s"]["p95"] <= level["ttft_s"]["p99"]
    # idle and load draw the same 100 W here: nothing above idle (within 5 % of the gross)
    assert 0.0 <= level["net_energy_per_output_token_j"] <= \
        0.05 * level["energy_per_output_token_j"]
    assert level["provenance"] == "measured"
    assert level["token_source"] == "usage"
    assert level["mean_output_tokens"] == 20
    # the server's own counters agree exactly with what wattlm counted over the level
    check = level["server_counters"]
    assert check["available"] and check["relative_difference"] == 0.0
    assert check["server"]["output_tokens"] == 20 * check["server"]["requests"]
    assert "ramp-up and drain are excluded" in level["window"]["excluded"]


def test_comparison_with_the_estimator_for_a_known_model() -> None:
    import wattlm

    with StubServer(StubOptions(token_s=0.002, model="Llama-3.1-8B")) as server:
        (level,) = _bench(server.url, [Level("concurrency", 2)], hardware="H100-SXM")
    est = level["estimate"]
    assert est["available"], est
    expected = wattlm.estimate_inference(
        model="Llama-3.1-8B", hardware="H100-SXM", batch_size=max(1, round(
            level["mean_concurrency"])), input_tokens=level["mean_input_tokens"],
        output_tokens=level["mean_output_tokens"], pue=1.0)
    central = expected.energy_per_output_token_j.central
    assert est["energy_per_output_token_j"]["central"] == pytest.approx(central)
    assert est["measured_over_estimate"] == pytest.approx(
        level["energy_per_output_token_j"] / central)
    # the scripted sensor is a GPU: the accelerator figures are compared too
    accel = expected.accelerators_energy_per_output_token_j.central
    assert est["measured_gpu_over_estimate"] == pytest.approx(
        level["gpu_energy_per_output_token_j"] / accel)


def test_each_level_is_a_stored_run_with_its_phases() -> None:
    with StubServer(StubOptions(token_s=0.002)) as server:
        levels = _bench(server.url, [Level("concurrency", 1), Level("concurrency", 4)],
                        duration_s=0.6)
    ids = [lv["run_id"] for lv in levels]
    assert len(set(ids)) == 2 and None not in ids
    with open_store() as store:
        for lv in levels:
            record = store.get_run(lv["run_id"])
            assert [p.name for p in record.phases] == ["idle", "ramp-up", "steady", "drain"]
            steady = next(p for p in record.phases if p.name == "steady")
            assert steady.energy_j == pytest.approx(lv["energy_j"])
            assert record.extra["serve_bench"]["energy_per_output_token_j"] == \
                lv["energy_per_output_token_j"]
            assert record.project == "serve-bench"


def test_server_counter_that_disagrees_is_flagged() -> None:
    with StubServer(StubOptions(token_s=0.001, counter_factor=1.25)) as server:
        (level,) = _bench(server.url, [Level("concurrency", 2)], duration_s=0.5)
    check = level["server_counters"]
    # wattlm counted n tokens, the server says 1.25 n: (n - 1.25 n) / 1.25 n = -0.2
    assert check["relative_difference"] == pytest.approx(-0.2)
    assert any(w.startswith("W603") and "-20.0%" in w for w in level["warnings"])


def test_stream_without_usage_counts_chunks_and_warns() -> None:
    with StubServer(StubOptions(usage=False, token_s=0.001)) as server:
        (level,) = _bench(server.url, [Level("concurrency", 2)], duration_s=0.5)
    assert level["token_source"] == "stream chunks"
    assert level["mean_output_tokens"] == 20  # one chunk per token in the stub
    assert any(w.startswith("W606") for w in level["warnings"])


def test_poisson_rate_sends_about_rate_times_time() -> None:
    with StubServer(StubOptions()) as server:
        (level,) = _bench(server.url, [Level("rate", 40)], duration_s=1.0, idle_s=0.0)
    # 1.3 s of arrivals at 40/s: 52 expected; Poisson with this seed, generous bounds
    assert 25 <= level["requests"]["sent"] <= 90
    assert level["requests"]["failed"] == 0


def _cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["serve-bench", *args])
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_json_has_the_interface_names(capsys: pytest.CaptureFixture[str]) -> None:
    with StubServer(StubOptions(token_s=0.001)) as server:
        code, out, err = _cli(capsys, server.url + "/v1", "--concurrency", "1,2", "--duration",
                              "0.5", "--ramp-up", "0.2", "--idle", "0.2", "--output-tokens",
                              "8", "--format", "json", "--report", "r.md")
    assert code == 0, err
    levels = json.loads(out)
    assert [lv["level"] for lv in levels] == [{"kind": "concurrency", "value": 1.0},
                                              {"kind": "concurrency", "value": 2.0}]
    for lv in levels:
        for name in INTERFACE:
            assert name in lv
        for name in ("ttft_s", "itl_s"):
            assert set(lv[name]) == {"p50", "p95", "p99"}
        assert lv["model"] == "stub-model"
    assert "| concurrency 1 |" in Path("r.md").read_text()


def test_cli_human_table(capsys: pytest.CaptureFixture[str],
                         caplog: pytest.LogCaptureFixture) -> None:
    with StubServer(StubOptions(token_s=0.001)) as server:
        code, out, err = _cli(capsys, server.url, "--concurrency", "2", "--duration", "0.5",
                              "--ramp-up", "0.2", "--idle", "0.2", "--no-save")
    assert code == 0, err
    header, rule, row = out.splitlines()[:3]
    assert header.split()[:3] == ["level", "run", "J/output"] and set(rule) <= {"-", " "}
    assert row.startswith("concurrency 2") and "mJ" in row and row.rstrip().endswith("modelled")
    assert "e-0" not in out and "e+0" not in out  # the one formatter: no e-notation
    assert "ramp-up and drain are excluded" in out
    # no --pid: the modelled channels follow wattlm itself (logged: pytest turns warnings
    # into errors, which wattlm's warn() never lets through)
    assert "W601" in caplog.text


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.parametrize("args, message", [
    (["--rate", "0"], "rate must be > 0"),
    (["--rate", "-2"], "rate must be > 0"),
    (["--rate", "nan"], "rate must be > 0"),
    (["--concurrency", "1.5"], "whole number"),
    (["--duration", "0"], "duration_s must be > 0"),
    (["--hardware", "h100x"], "did you mean H100-SXM"),
    (["--report", "out.pdf"], "--report writes .html or .md"),
])
def test_bad_levels_fail_before_any_request(capsys: pytest.CaptureFixture[str], args: list[str],
                                            message: str) -> None:
    opt = StubOptions()
    with StubServer(opt) as server:
        code, out, err = _cli(capsys, server.url, *args)
    assert code == 2 and out == ""
    assert message in err and err.count("\n") == 1 and "Traceback" not in err
    assert opt.counters["ok"] == 0


def test_unreachable_url_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = _cli(capsys, f"http://127.0.0.1:{_free_port()}", "--duration", "1")
    assert code == 2 and out == ""
    assert "cannot reach the server" in err and err.count("\n") == 1


def test_non_openai_server_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    with StubServer(StubOptions(mode="html")) as server:
        code, _out, err = _cli(capsys, server.url, "--duration", "1")
    assert code == 2
    assert "is not an OpenAI-compatible server" in err and "/v1/models" in err


def test_a_model_the_server_does_not_serve(capsys: pytest.CaptureFixture[str]) -> None:
    with StubServer(StubOptions()) as server:
        code, _out, err = _cli(capsys, server.url, "--model", "llama-9000")
    assert code == 2
    assert "HTTP 404" in err and "the server lists stub-model" in err


def test_prompts_file_with_missing_field(capsys: pytest.CaptureFixture[str],
                                         tmp_path: Path) -> None:
    prompts = tmp_path / "p.jsonl"
    prompts.write_text('{"prompt": "hello", "max_tokens": 4}\n{"text": "no prompt"}\n')
    opt = StubOptions()
    with StubServer(opt) as server:
        code, _out, err = _cli(capsys, server.url, "--prompts", str(prompts))
    assert code == 2
    assert "p.jsonl:2: missing field" in err and "found keys: text" in err
    assert opt.counters["ok"] == 0


def test_prompts_file_drives_the_requests(capsys: pytest.CaptureFixture[str],
                                          tmp_path: Path) -> None:
    prompts = tmp_path / "p.jsonl"
    prompts.write_text('{"prompt": "one two three", "max_tokens": 3}\n\n'
                       '{"messages": [{"role": "user", "content": "a b"}], "max_tokens": 5}\n')
    with StubServer(StubOptions(token_s=0.001)) as server:
        code, out, err = _cli(capsys, server.url, "--prompts", str(prompts), "--concurrency",
                              "1", "--duration", "0.5", "--ramp-up", "0.1", "--idle", "0",
                              "--format", "json", "--no-save")
    assert code == 0, err
    (level,) = json.loads(out)
    # requests alternate 3 and 5 tokens: the mean of those completed lies in between
    assert 3.0 <= level["mean_output_tokens"] <= 5.0
    assert level["run_id"] is None


def test_start_runs_and_stops_the_server(capsys: pytest.CaptureFixture[str]) -> None:
    port = _free_port()
    script = Path(__file__).with_name("stub_server.py")
    code, out, err = _cli(capsys, f"http://127.0.0.1:{port}", "--start",
                          f"{sys.executable} {script} --port {port}", "--start-timeout", "30",
                          "--concurrency", "2", "--duration", "0.5", "--ramp-up", "0.2",
                          "--idle", "0.2", "--format", "json")
    assert code == 0, err
    (level,) = json.loads(out)
    assert level["measured"].startswith("process tree of pid ")
    assert level["output_tokens"] > 0
    with pytest.raises(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
        pass  # stopped afterwards


def test_start_that_exits_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    code, _out, err = _cli(capsys, "http://127.0.0.1:9", "--start",
                           f"{sys.executable} -c 'raise SystemExit(3)'", "--duration", "1")
    assert code == 2
    assert "exited with code 3 before answering" in err
