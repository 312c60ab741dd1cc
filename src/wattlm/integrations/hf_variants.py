"""Transformers model factories for ``wattlm compare`` (torch imported inside each function).

Moved here from ``wattlm.compare.variants``: :func:`transformers_runner` turns a model into a
variant callable, :func:`int8_dynamic` and :func:`half_precision` make the classic variants,
:func:`transformers_variants` makes several at once. Weight-only quantisation, pruning and
distillation, with the energy they cost, are in :mod:`wattlm.integrations.compression`.
"""

from __future__ import annotations

import copy
import warnings
from collections.abc import Callable, Sequence
from typing import Any

from wattlm.errors import InvalidInputError

__all__ = ["half_precision", "int8_dynamic", "transformers_runner", "transformers_variants"]

Variant = Callable[[list[Any]], Any]


def int8_dynamic(model: Any) -> Any:
    """A copy of ``model`` with dynamic int8 quantisation of its ``nn.Linear`` layers (CPU).

    Uses ``torch.ao.quantization.quantize_dynamic``. Recent torch releases deprecate that API
    in favour of torchao; its deprecation warnings are silenced inside this call only.
    """
    import torch

    clone = copy.deepcopy(model).to("cpu").eval()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return torch.ao.quantization.quantize_dynamic(  # type: ignore[no-untyped-call]
            clone, {torch.nn.Linear}, dtype=torch.qint8)


def half_precision(model: Any, dtype: str = "float16") -> Any:
    """A copy of ``model`` in ``float16`` or ``bfloat16``."""
    import torch

    if dtype not in ("float16", "bfloat16"):
        raise InvalidInputError(f"dtype must be float16 or bfloat16, got {dtype!r}")
    return copy.deepcopy(model).to(getattr(torch, dtype)).eval()


def _has_params(model: Any) -> bool:
    try:
        next(model.parameters())
    except (StopIteration, AttributeError, TypeError):
        return False
    return True


def transformers_runner(model: Any, tokenizer: Any, *, batch_size: int = 8,
                        max_length: int = 128, device: str | None = None) -> Variant:
    """A variant callable for a Transformers model: texts in, one output per text.

    Texts are tokenised with padding and truncation and run ``batch_size`` at a time under
    ``torch.inference_mode()``. Models with ``logits`` give the arg-max class id per text;
    others give the mean of the last hidden state (a list of floats).
    """
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise InvalidInputError(f"batch_size must be an integer >= 1, got {batch_size!r}")

    def run(texts: list[Any]) -> list[Any]:
        import torch

        target = device or (str(next(model.parameters()).device) if _has_params(model)
                            else "cpu")
        outputs: list[Any] = []
        for start in range(0, len(texts), batch_size):
            chunk = [str(t) for t in texts[start:start + batch_size]]
            encoded = tokenizer(chunk, padding=True, truncation=True, max_length=max_length,
                                return_tensors="pt")
            encoded = {k: v.to(target) for k, v in encoded.items()}
            with torch.inference_mode():
                out = model(**encoded)
            logits = getattr(out, "logits", None)
            if logits is not None:
                outputs.extend(int(i) for i in logits.float().argmax(dim=-1).tolist())
            else:
                hidden = out.last_hidden_state.float().mean(dim=1)
                outputs.extend(row for row in hidden.tolist())
        return outputs

    run.tokenizer = tokenizer  # type: ignore[attr-defined]
    return run


def transformers_variants(model: Any, tokenizer: Any, *, int8: bool = True,
                          half: str | None = None, batch_sizes: Sequence[int] = (),
                          batch_size: int = 8, max_length: int = 128) -> dict[str, Variant]:
    """Ready-made variants of one model: as is, int8, half precision, other batch sizes.

    Args:
        model: a Transformers model (in float32).
        tokenizer: its tokenizer.
        int8: add ``"int8"`` (dynamic int8 quantisation; runs on CPU).
        half: ``"float16"`` or ``"bfloat16"`` to add that variant.
        batch_sizes: extra ``"batch-N"`` variants of the unchanged model.
        batch_size: batch size of the other variants.
        max_length: truncation length.

    Returns:
        name -> callable, ``"base"`` first (the default baseline of
        :func:`wattlm.compare.variants.compare`).
    """
    out: dict[str, Variant] = {"base": transformers_runner(
        model, tokenizer, batch_size=batch_size, max_length=max_length)}
    if int8:
        out["int8"] = transformers_runner(int8_dynamic(model), tokenizer, batch_size=batch_size,
                                          max_length=max_length, device="cpu")
    if half:
        out[half] = transformers_runner(half_precision(model, half), tokenizer,
                                        batch_size=batch_size, max_length=max_length)
    for size in batch_sizes:
        out[f"batch-{size}"] = transformers_runner(model, tokenizer, batch_size=size,
                                                   max_length=max_length)
    return out
