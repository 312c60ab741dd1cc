"""Training compute: floating-point operations of a transformer pre-training run.

``FLOPs = 6 * N * D`` (Kaplan et al. 2020, arXiv:2001.08361): 2 FLOPs per active parameter per
token in the forward pass and 4 in the backward pass. ``N`` is the number of parameters each
token uses (the active parameters of a mixture-of-experts model), ``D`` the training tokens.

With a sequence length ``T`` the attention score and value products add, per token,
``12 * L * d_attn * T`` FLOPs (``L`` layers, ``d_attn`` = heads x head size), the term PaLM uses
for its model FLOPs utilisation (Chowdhery et al. 2022, arXiv:2204.02311, Appendix B).
"""

from __future__ import annotations

import math

from wattlm.errors import InvalidInputError

__all__ = ["attention_flops_per_token", "training_flops"]


def _positive(name: str, value: float) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError) as e:
        raise InvalidInputError(f"{name} must be a number > 0, got {value!r}") from e
    if not math.isfinite(number) or number <= 0:
        raise InvalidInputError(f"{name} must be a finite number > 0, got {value!r}")
    return number


def attention_flops_per_token(layers: int, attention_dim: float, seq_len: float) -> float:
    """Training FLOPs per token of the attention products: ``12 * L * d_attn * T``."""
    return 12.0 * _positive("layers", layers) * _positive("attention_dim", attention_dim) * \
        _positive("seq_len", seq_len)


def training_flops(active_params: float, tokens: float, *, layers: int | None = None,
                   attention_dim: float | None = None, seq_len: float | None = None) -> float:
    """FLOPs of training on ``tokens`` tokens: ``6 * N * D`` plus the attention term.

    Args:
        active_params: parameters used per token (N).
        tokens: training tokens (D).
        layers: transformer layers (for the attention term).
        attention_dim: heads x head size (usually the hidden size).
        seq_len: training sequence length; the attention term is added only when this and the
            two above are given.

    Returns:
        Total FLOPs.
    """
    n = _positive("active_params", active_params)
    d = _positive("tokens", tokens)
    per_token = 6.0 * n
    if seq_len is not None and layers and attention_dim:
        per_token += attention_flops_per_token(layers, attention_dim, seq_len)
    return per_token * d
