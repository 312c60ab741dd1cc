"""Reports escape what users wrote (issue 13 item 5): a project, phase, provider or model name
holding Markdown links, images or block syntax comes out as inert text."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest

from wattlm.cli.main import main
from wattlm.report import render
from wattlm.report.markdown import md_cell, md_text
from wattlm.sensors.fake import FakeSensor
from wattlm.store import open_store
from wattlm.tracking.tracker import track

PIXEL = "![pixel](http://e/p.png)"
LINK = "[x](http://e/)"


def _live(markdown: str) -> list[str]:
    """Unescaped link or image openers: ``[`` or ``![`` not preceded by a backslash."""
    return re.findall(r"(?<!\\)!?\[[^\]]*(?<!\\)\]\(", markdown)


@pytest.fixture()
def stored_run(tmp_path: Path) -> tuple[str, int]:
    db = str(tmp_path / "runs.db")
    with track(project=PIXEL, region="FR", db=db, interval_s=0.05,
               sensors=[FakeSensor("fake-gpu0", power_w=50.0)]) as run:
        with run.phase("train ![p](p.png)"):  # a phase name holds no '/'
            time.sleep(0.2)
    assert run.result.id is not None
    return db, run.result.id


def _record(db: str, run_id: int):
    with open_store(db) as store:
        record = store.get_run(run_id)
        devices, samples = store.samples(run_id)
    return record, devices, samples


def test_md_text_is_inert() -> None:
    assert md_text(PIXEL) == r"!\[pixel\](http://e/p.png)"
    assert md_text("x\n# Injected\n---\n| a |") == r"x # Injected --- | a |"
    assert md_text("# Injected") == r"\# Injected"
    assert md_text("1. one") == r"1\. one"
    assert md_text("<img src=x>") == r"\<img src=x>"
    assert md_text(r"\[x](http://e/)") == r"\\\[x\](http://e/)"  # a user's own backslash
    assert md_cell("a|b\nc") == r"a\|b c"


def test_markdown_report_of_a_hostile_project(stored_run: tuple[str, int]) -> None:
    record, devices, samples = _record(*stored_run)
    markdown = render(record, "md", devices=devices, samples=samples)
    assert r"!\[pixel\](http://e/p.png)" in markdown   # the name is there, as text
    assert r"train !\[p\](p.png)" in markdown   # the phase too
    assert _live(markdown) == []
    assert "![" not in markdown.replace(r"!\[", "")


def test_disclosure_with_a_provider_that_injects_a_heading(
        stored_run: tuple[str, int]) -> None:
    record, devices, samples = _record(*stored_run)
    text = render(record, "disclosure", devices=devices, samples=samples,
                  provider="ACME\n# Injected\n\n![p](http://e/p.png)", model_name=LINK)
    assert _live(text) == []
    assert not [line for line in text.splitlines() if "Injected" in line
                and line.lstrip().startswith("#")]
    assert "Provider: ACME # Injected !\\[p\\](http://e/p.png)" in text
    headings = [line for line in text.splitlines() if line.startswith("#")]
    assert headings[0] == r"# Energy disclosure: \[x\](http://e/)"


def test_cli_report_markdown_and_disclosure(stored_run: tuple[str, int],
                                            capsys: pytest.CaptureFixture[str]) -> None:
    db, run_id = stored_run
    assert main(["report", str(run_id), "--db", db]) == 0
    out = capsys.readouterr().out
    assert _live(out) == [] and r"!\[pixel\]" in out
    assert main(["report", str(run_id), "--db", db, "--format", "disclosure",
                 "--provider", "ACME ![p](http://e/p.png)"]) == 0
    out = capsys.readouterr().out
    assert _live(out) == [] and r"Provider: ACME !\[p\](http://e/p.png)" in out
    # the CLI refuses a provider on two lines outright (one printable line of text)
    assert main(["report", str(run_id), "--db", db, "--format", "disclosure",
                 "--provider", "ACME\n# Injected"]) == 2
    err = capsys.readouterr().err
    assert "argument --provider" in err and len(err.strip().splitlines()) == 1
