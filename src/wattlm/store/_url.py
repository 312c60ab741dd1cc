"""Store URLs in messages, without their passwords (no SQLAlchemy needed)."""

from __future__ import annotations

__all__ = ["redact_url"]


def redact_url(url: str) -> str:
    """Return the URL with any password replaced by ``***`` (for messages).

    Everything between ``user:`` and the last ``@`` is hidden (so a password holding an
    unescaped ``@`` is hidden whole), and so is a ``password=`` query parameter.
    """
    from wattlm._secrets import mask_url

    return mask_url(url)
