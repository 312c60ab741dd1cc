"""No credential in output: one masking rule, by parsing the URL, never by searching the text."""

from __future__ import annotations

import json

import pytest

from wattlm._secrets import mask_text, mask_url
from wattlm.cli.main import main


@pytest.mark.parametrize(("url", "masked"), [
    ("postgresql://me:s3cret@db:5432/runs", "postgresql://me:***@db:5432/runs"),
    ("postgresql://u:p@h:5999/db", "postgresql://u:***@h:5999/db"),  # "p" and "port 5999"
    ("postgresql://me:p@ss@db/runs", "postgresql://me:***@db/runs"),  # an unescaped @
    ("postgresql+psycopg://me:pa%40ss@db/runs", "postgresql+psycopg://me:***@db/runs"),
    ("postgres://me@db/runs", "postgres://me@db/runs"),  # nothing to hide
    ("postgresql://db/runs?password=s3cret&sslmode=require",
     "postgresql://db/runs?password=***&sslmode=require"),
    ("mysql://root:hunter2@127.0.0.1/x", "mysql://root:***@127.0.0.1/x"),
    ("redis://:tok@cache:6379/0", "redis://:***@cache:6379/0"),
    ("https://ghp_abcdef123456@github.com/o/r.git", "https://***@github.com/o/r.git"),
    ("https://api.example/v3/carbon?zone=FR&auth-token=abc123&n=1",
     "https://api.example/v3/carbon?zone=FR&auth-token=***&n=1"),
    ("https://bucket.s3.amazonaws.com/k?X-Amz-Credential=AKIA1&X-Amz-Signature=f00&x=1",
     "https://bucket.s3.amazonaws.com/k?X-Amz-Credential=***&X-Amz-Signature=***&x=1"),
    ("https://app.example/cb#access_token=xyz&state=1",
     "https://app.example/cb#access_token=***&state=1"),
    ("https://example.org/path?page=2", "https://example.org/path?page=2"),
    ("/home/me/runs.db", "/home/me/runs.db"),
    ("sqlite:///home/me/runs.db", "sqlite:///home/me/runs.db"),
])
def test_mask_url_table(url: str, masked: str) -> None:
    assert mask_url(url) == masked


def test_a_one_letter_password_does_not_edit_the_rest_of_the_message() -> None:
    """Issue 13: password ``p`` turned ``port 5999`` into ``***ort 5999``."""
    message = ('connection to server at "h" (127.0.0.1), port 5999 failed: Connection refused '
               "(postgresql://u:p@h:5999/db)")
    assert mask_text(message) == message.replace("u:p@", "u:***@")


def test_mask_text_hides_conninfo_pairs_and_keeps_the_rest() -> None:
    text = "invalid dsn: host=db port=5432 password=s3cret user=me; see https://x.org/?token=t"
    assert mask_text(text) == ("invalid dsn: host=db port=5432 password=*** user=me; see "
                               "https://x.org/?token=***")


def test_postgres_errors_are_masked_by_parsing() -> None:
    pytest.importorskip("sqlalchemy")
    from wattlm.store.postgres import _explain, redact_url

    error = RuntimeError("could not connect: port 5999 refused for postgresql://u:p@h:5999/db")
    assert _explain(error, ["p"]) == (
        "could not connect: port 5999 refused for postgresql://u:***@h:5999/db")
    assert redact_url("postgresql://u:p@h:5999/db") == "postgresql://u:***@h:5999/db"


def test_config_show_hides_a_postgres_password(monkeypatch: pytest.MonkeyPatch,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("WATTLM_DB", "postgresql://u:secret@h:5432/db")
    monkeypatch.setenv("WATTLM_ELECTRICITYMAPS_TOKEN", "tok-secret-123")
    assert main(["config", "show"]) == 0
    human = capsys.readouterr().out
    assert "secret" not in human and "postgresql://u:***@h:5432/db" in human
    assert main(["config", "show", "--format", "json"]) == 0
    text = capsys.readouterr().out
    assert "secret" not in text
    rows = {r["name"]: r["value"] for r in json.loads(text)}
    assert rows["db"] == "postgresql://u:***@h:5432/db"
    assert rows["electricitymaps_token"] == "***"


def test_errors_and_stored_commands_hide_credentials(tmp_path, capsys) -> None:  # type: ignore[no-untyped-def]
    import sys

    out = tmp_path / "r.json"
    assert main(["run", "--region", "FR", "--quiet", "-o", str(out), "--", sys.executable, "-c",
                 "pass", "postgresql://me:hunter2@db/x"]) == 0
    data = json.loads(out.read_text())
    assert data["command"][-1] == "postgresql://me:***@db/x"
    assert "hunter2" not in out.read_text()
    assert main(["run", "--region", "FR", "--", "/no/such/postgresql://u:hunter2@h/db"]) == 127
    assert "hunter2" not in capsys.readouterr().err


def test_a_warning_never_carries_a_credential() -> None:
    from wattlm.errors import StoreWarning, warn

    with pytest.warns(StoreWarning):
        text = warn("could not save to postgresql://u:hunter2@h/db", StoreWarning, "W303")
    assert text == "W303: could not save to postgresql://u:***@h/db"
