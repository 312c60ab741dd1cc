"""Hide credentials in what wattlm shows or stores: one masking rule, by parsing, never by search.

:func:`mask_url` parses a URL and rebuilds it with ``***`` in place of the password of its
user info (``postgresql://me:***@db:5432/runs``, any scheme), of a lone user name where it is
a token (``https://***@host``), and of every query or fragment parameter whose name says it is
a credential (``?password=***``, ``&token=***``, ``X-Amz-Signature=***``). Nothing else changes:
the value is never searched for in the rest of the text (a password ``p`` must not turn
``port 5999`` into ``***ort 5999``). :func:`mask_text` applies the same rule to every URL and
every ``password=...`` pair inside a message (errors, logs, a command line).
"""

from __future__ import annotations

import re
from urllib.parse import SplitResult, urlsplit, urlunsplit

__all__ = ["MASK", "is_secret_name", "mask_text", "mask_url"]

MASK = "***"
#: Parameter-name fragments that mark a credential (compared case-insensitively).
_SECRET_WORDS = ("pass", "pwd", "secret", "token", "key", "auth", "signature", "sig",
                 "credential", "session")
#: Schemes whose lone user name is usually a token (``https://TOKEN@github.com``).
_TOKEN_USER_SCHEMES = ("http", "https", "ws", "wss", "git+https", "ftp")
_URL = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*://[^\s'\"<>]+")
_PAIR = re.compile(r"(?i)\b((?:[a-z_]*(?:password|passwd|pwd|secret|token|api_?key))\s*=\s*)"
                   r"('[^']*'|\"[^\"]*\"|[^\s&;,'\"]+)")


def is_secret_name(name: str) -> bool:
    """Whether a setting or parameter name denotes a credential (``token``, ``api_key``...)."""
    lowered = name.lower()
    return any(word in lowered for word in _SECRET_WORDS)


def _mask_params(text: str) -> str:
    if not text or "=" not in text:
        return text
    parts = []
    for piece in text.split("&"):
        name, sep, value = piece.partition("=")
        if sep and value and is_secret_name(name):
            value = MASK
        parts.append(f"{name}{sep}{value}")
    return "&".join(parts)


def _mask_netloc(parts: SplitResult) -> str:
    netloc = parts.netloc
    userinfo, at, host = netloc.rpartition("@")
    if not at:
        return netloc
    user, colon, _password = userinfo.partition(":")
    if colon:
        return f"{user}:{MASK}@{host}"
    if parts.scheme.lower() in _TOKEN_USER_SCHEMES:
        return f"{MASK}@{host}"
    return netloc


def mask_url(url: str) -> str:
    """Return ``url`` with every credential replaced by ``***`` (a non-URL is returned as is).

    Examples:
        ``postgresql://me:s3cret@db:5432/runs`` -> ``postgresql://me:***@db:5432/runs``;
        ``https://api.example/x?token=abc&n=1`` -> ``https://api.example/x?token=***&n=1``.
    """
    try:
        parts = urlsplit(url)
    except ValueError:  # e.g. an invalid IPv6 host: hide everything after the scheme
        scheme, sep, _rest = url.partition("://")
        return f"{scheme}{sep}{MASK}" if sep else url
    if not parts.scheme or not (parts.netloc or parts.query):
        return url
    masked = parts._replace(netloc=_mask_netloc(parts), query=_mask_params(parts.query),
                            fragment=_mask_params(parts.fragment))
    if masked == parts:
        return url
    return urlunsplit(masked)


def mask_text(text: str) -> str:
    """Mask every URL (:func:`mask_url`) and every ``password=VALUE`` pair in a message."""
    text = _URL.sub(lambda m: mask_url(m.group(0)), text)
    return _PAIR.sub(lambda m: m.group(1) + MASK, text)
