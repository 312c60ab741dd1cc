"""Package-level promises: a fast import with no optional deps, an exact public API, layering."""

import ast
import subprocess
import sys
from pathlib import Path

import wattlm

SRC = Path(__file__).resolve().parents[1] / "src" / "wattlm"
OPTIONAL = ("torch", "transformers", "pynvml", "matplotlib", "sqlalchemy", "typer", "rich",
            "yaml", "psycopg", "prometheus_client", "numpy", "pandas")


def test_import_loads_no_optional_dependency_and_probes_nothing():
    code = ("import sys, threading, wattlm; "
            f"print([m for m in {OPTIONAL!r} if m in sys.modules]); "
            "print(threading.active_count())")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    loaded, threads = out.stdout.splitlines()
    assert loaded == "[]"
    assert threads == "1"


def test_cli_help_loads_no_optional_dependency():
    code = ("import sys, contextlib, io\n"
            "from wattlm.cli.main import main\n"
            "with contextlib.redirect_stdout(io.StringIO()): main(['--help'])\n"
            f"print([m for m in {OPTIONAL!r} if m in sys.modules])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_public_api_is_exact_and_resolvable():
    expected = {
        "track", "Tracker", "footprint", "estimate_training", "estimate_inference", "open_store",
        "Range", "Provenance", "Footprint", "RunRecord", "Settings", "resolve_settings",
        "WattlmError", "WattlmWarning", "__version__",
    }
    assert set(wattlm.__all__) == expected
    for name in wattlm.__all__:
        assert getattr(wattlm, name) is not None


# layer -> packages it may import (besides itself and the base layer)
BASE = {"records", "results", "units", "errors", "config", "_caches", "_format", "_secrets",
        "_validate"}
LAYERS = {
    "cli": None,  # may import anything
    "dashboard": None,
    "integrations": None,
    "tracking": {"sensors", "carbon", "catalog", "store", "estimate"},
    "estimate": {"carbon", "catalog"},
    "compare": {"tracking", "estimate", "carbon", "catalog", "store", "sensors", "report",
                "tasks", "fairness"},
    "tasks": {"tracking", "estimate", "carbon", "catalog", "store", "sensors", "report",
              "fairness"},
    "fairness": set(),
    "serving": {"tracking", "estimate", "carbon", "catalog", "store", "sensors", "report",
                "_format"},
    "report": {"carbon", "catalog", "store", "estimate"},
    "sensors": set(),
    "carbon": {"catalog"},
    "catalog": set(),
    "store": set(),
}


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("wattlm."):
            found.add(node.module.split(".")[1])
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("wattlm."):
                    found.add(alias.name.split(".")[1])
    return found


def test_imports_go_one_way():
    problems = []
    for path in SRC.rglob("*.py"):
        rel = path.relative_to(SRC)
        layer = rel.parts[0] if len(rel.parts) > 1 else rel.stem
        if layer in ("__init__", "__main__"):
            continue
        if layer not in LAYERS:
            allowed = BASE
        elif LAYERS[layer] is None:
            continue
        else:
            allowed = BASE | LAYERS[layer] | {layer}
        for imported in _imports(path) - allowed - {""}:
            problems.append(f"{rel} imports wattlm.{imported}")
    assert not problems, problems


def test_package_logger_has_only_a_null_handler():
    import logging

    import wattlm.errors  # noqa: F401 - installs the handler

    handlers = logging.getLogger("wattlm").handlers
    assert len(handlers) == 1 and isinstance(handlers[0], logging.NullHandler)
