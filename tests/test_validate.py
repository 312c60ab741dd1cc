"""The validation layer: each bad value gets one line saying what, what would be right, where."""

import math

import pytest

from wattlm import _validate as v
from wattlm.config import resolve_settings
from wattlm.errors import ConfigError, InvalidInputError


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf, "nan", "inf", "1e999", "abc",
                                 True, None, [1]])
def test_finite_rejects_non_numbers(bad):
    with pytest.raises(InvalidInputError, match="x must be a finite number"):
        v.finite(bad, "x")


def test_bounded_names_the_bound_and_why():
    with pytest.raises(InvalidInputError,
                       match=r"pue must be a number in \[1, 3\] \(a PUE above 3 .* mistake\)"):
        v.pue(1e308)
    assert v.pue("1.2") == 1.2
    with pytest.raises(InvalidInputError, match=r"in \(0, 86,400\]"):
        v.positive(0, "interval_s")
    assert v.fraction(0.0, "s") == 0.0
    with pytest.raises(InvalidInputError, match=r"\[0, 1\)"):
        v.fraction(1.0, "sparsity", upper_open=True)


@pytest.mark.parametrize("bad", [2.5, "1.5", 2**63, -1, "1e999", math.nan, True])
def test_count_rejects_fractions_overflow_and_negatives(bad):
    with pytest.raises(InvalidInputError, match="tokens must be a whole number"):
        v.count(bad, "tokens")


def test_count_accepts_whole_numbers():
    assert v.count("12", "n") == 12 and v.count(3.0, "n") == 3
    assert v.count(str(2**63 - 1), "n") == 2**63 - 1


@pytest.mark.parametrize("bad", ["", "   ", "a\x00b", "line\nbreak", "x" * 201, 5])
def test_text_rejects_empty_control_and_long(bad):
    with pytest.raises(InvalidInputError, match="project must be a"):
        v.text(bad, "project")


def test_shown_escapes_control_characters_and_cuts():
    assert "\\x1b" in v.shown("\x1b[31mred")
    assert len(v.shown("y" * 500)) == 60


def test_read_text_reports_each_kind_of_bad_file(tmp_path):
    binary = tmp_path / "b.csv"
    binary.write_bytes(b"a,b\x00\x01")
    latin = tmp_path / "l.csv"
    latin.write_bytes("caf\xe9".encode("latin-1"))
    with pytest.raises(InvalidInputError, match="is a binary file"):
        v.read_text(binary, "series")
    with pytest.raises(InvalidInputError, match=r"is not UTF-8 text \(byte 3 is 0xe9\)"):
        v.read_text(latin, "series")
    with pytest.raises(InvalidInputError, match="is a directory"):
        v.read_text(tmp_path, "series")
    with pytest.raises(InvalidInputError, match="does not exist"):
        v.read_text(tmp_path / "none.csv", "series")
    good = tmp_path / "g.csv"
    good.write_text("\ufeffok", encoding="utf-8")
    assert v.read_text(good, "series") == "ok"


def test_path_for_writing_checks_before_the_work(tmp_path):
    with pytest.raises(InvalidInputError, match="is a directory"):
        v.path_for_writing(tmp_path, "-o")
    with pytest.raises(InvalidInputError, match="does not exist"):
        v.path_for_writing(tmp_path / "missing" / "out.json", "-o")
    assert v.path_for_writing(tmp_path / "out.json", "-o") == tmp_path / "out.json"


def test_url_never_echoes_a_password():
    with pytest.raises(InvalidInputError) as info:
        v.url("mysql://alice:s3cret@h/db", "db", schemes=("postgresql",))
    assert "s3cret" not in str(info.value) and "scheme 'mysql'" in str(info.value)


# --- settings --------------------------------------------------------------------------------

@pytest.mark.parametrize(("key", "value"), [
    ("interval_s", "nan"), ("interval_s", "inf"), ("interval_s", "1e308"), ("pue", "nan"),
    ("pue", "1e308"), ("baseline_s", "inf"), ("baseline_s", "1e9"),
    ("intensity_g_per_kwh", "nan"), ("intensity_g_per_kwh", "-1"),
])
def test_settings_reject_nan_inf_and_absurd_values_from_the_environment(monkeypatch, key, value):
    monkeypatch.setenv(f"WATTLM_{key.upper()}", value)
    with pytest.raises(ConfigError, match=f"environment WATTLM_{key.upper()}: {key} must be"):
        resolve_settings()


def test_settings_file_errors_name_the_file_and_line(tmp_path):
    (tmp_path / "wattlm.toml").write_text('region = "FR"\n\npue = 7\n')
    with pytest.raises(ConfigError, match=r"wattlm.toml line 3: pue must be"):
        resolve_settings()
    (tmp_path / "wattlm.toml").write_bytes(b'region = "caf\xe9"\n')
    with pytest.raises(ConfigError, match="is not UTF-8 text"):
        resolve_settings()
    (tmp_path / "wattlm.toml").unlink()
    (tmp_path / "wattlm.toml").mkdir()
    with pytest.raises(ConfigError, match="is a directory"):
        resolve_settings()


def test_settings_reject_empty_project_and_unknown_store_scheme():
    with pytest.raises(ConfigError, match="project must be a non-empty line"):
        resolve_settings(project="")
    with pytest.raises(ConfigError, match=r"db must be a store location \(supported: a file "
                                          r"path, sqlite:///path, postgresql://...\), got a "
                                          "URL with scheme 'mysql'"):
        resolve_settings(db="mysql://u:p@h/db")
    assert resolve_settings(db="postgresql://u:p@h/db").db == "postgresql://u:p@h/db"


def test_docs_cli_lists_every_bound_with_its_value() -> None:
    """docs/cli.md "Bounds" names each key of BOUNDS with the value the code enforces."""
    from pathlib import Path

    doc = (Path(__file__).parents[1] / "docs" / "cli.md").read_text("utf-8")
    section = doc.split("## Bounds", 1)[1].split("\n## ", 1)[0]
    rows = {line.split("|")[1].strip(): line for line in section.splitlines()
            if line.startswith("| `")}
    for name, (high, _) in v.BOUNDS.items():
        assert f"`{name}`" in rows, f"docs/cli.md does not list the bound {name}"
        assert v._plain(high) in rows[f"`{name}`"], f"docs/cli.md: wrong bound for {name}"
    assert "## Exit codes" in doc and all(f"| {c} |" in doc for c in ("2", "126", "127", "130"))


def test_counts_use_the_documented_bound_and_say_why() -> None:
    with pytest.raises(InvalidInputError, match=r"devices must be a whole number in "
                                                r"\[1, 1,000,000\] \(more than a million"):
        v.count(10**30, "devices", low=1)
    with pytest.raises(InvalidInputError, match=r"got 2\.5$"):
        v.count(2.5, "tokens", low=1)
    assert v.count("2e12", "tokens", low=1) == 2 * 10**12
    assert v.count(5, "n", high=10) == 5


def test_cpu_tdp_environment_is_checked_at_the_door() -> None:
    for bad in ("-5", "abc", "nan", "3000"):
        with pytest.raises(ConfigError, match=r"^environment WATTLM_CPU_TDP_W: cpu_tdp_w must"):
            resolve_settings(environ={"WATTLM_CPU_TDP_W": bad})
    assert resolve_settings(environ={"WATTLM_CPU_TDP_W": "125"}) is not None


def test_paths_with_impossible_names_are_one_line() -> None:
    with pytest.raises(InvalidInputError, match="cannot be read"):
        v.path_for_reading("x" * 5000, "config")
    with pytest.raises(InvalidInputError, match="cannot be written"):
        v.path_for_writing("x" * 5000, "-o/--output")
