"""Compressed variants and the energy it costs to make them.

Makers (each returns a new model; the original is left as it was):

- :func:`weight_only`: weight-only 8-bit or 4-bit quantisation of the linear layers with
  ``optimum-quanto`` (``qint8``/``qint4`` weights, activations left in float). Chosen over
  ``torchao`` because on this project's CPU build (torch 2.13) torchao's int4 weight-only path
  needs an extra kernel package (``mslk``) and fails, while quanto runs int8 and int4 on CPU
  and CUDA alike.
- :func:`prune`: ``torch.nn.utils.prune`` on every ``nn.Linear``: L1 unstructured (single
  weights) or Ln structured (whole output rows, L2 norm) at a sparsity in [0, 1); made
  permanent with ``prune.remove``.
- :func:`distil`: a student with fewer layers, initialised from the teacher's first layers and
  trained on the teacher's output distribution (KL divergence at temperature T, Hinton et al.
  2015) for a given number of steps on the workload's texts.

:func:`make` runs any maker under :func:`wattlm.track`, so the cost of making a variant
(quantisation, pruning, distillation training) is measured, and stored when asked.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from wattlm.errors import InvalidInputError, MissingExtraError

__all__ = ["PRUNE_METHODS", "QUANTISATIONS", "MadeVariant", "check_sparsity", "distil", "make",
           "prune", "weight_only"]

QUANTISATIONS = ("int8", "int8-weight", "int4-weight")
"""``int8``: dynamic int8 (torch, CPU); ``int8-weight``/``int4-weight``: quanto weight-only."""
PRUNE_METHODS = ("unstructured", "structured")


@dataclass
class MadeVariant:
    """A model made from another, with what making it cost (J, s) as measured."""

    model: Any
    method: str
    energy_j: float = 0.0
    duration_s: float = 0.0
    provenance: str | None = None
    run_id: int | None = None
    details: dict[str, Any] = field(default_factory=dict)


def check_sparsity(value: Any, where: str = "sparsity") -> float:
    """A sparsity in [0, 1).

    Raises:
        InvalidInputError: not a finite number in [0, 1).
    """
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(
            value) or not 0.0 <= float(value) < 1.0:
        raise InvalidInputError(f"{where} must be a number in [0, 1) (the share of weights "
                                f"set to zero), got {value!r}")
    return float(value)


def weight_only(model: Any, bits: int = 8) -> Any:
    """A copy of ``model`` with weight-only ``bits``-bit linear layers (optimum-quanto).

    Raises:
        InvalidInputError: ``bits`` is not 8 or 4.
        MissingExtraError: optimum-quanto is not installed (``wattlm[tasks]``).
    """
    if bits not in (8, 4):
        raise InvalidInputError(f"weight-only quantisation bits must be 8 or 4, got {bits!r}")
    try:
        from optimum import quanto
    except ImportError as e:
        raise MissingExtraError("optimum-quanto", "tasks", "weight-only quantisation") from e
    clone = copy.deepcopy(model).eval()
    quanto.quantize(clone, weights=quanto.qint8 if bits == 8 else quanto.qint4)
    quanto.freeze(clone)
    return clone


def prune(model: Any, sparsity: float, method: str = "unstructured") -> Any:
    """A copy of ``model`` with each ``nn.Linear`` weight pruned to ``sparsity``.

    ``unstructured`` zeroes the smallest weights (L1); ``structured`` zeroes whole output rows
    with the smallest L2 norm. Dense kernels still multiply the zeros, so the energy saving
    shows only if the hardware or a later step exploits the sparsity: the comparison says so.

    Raises:
        InvalidInputError: a sparsity outside [0, 1) or an unknown method.
    """
    import torch
    from torch.nn.utils import prune as torch_prune

    amount = check_sparsity(sparsity)
    if method not in PRUNE_METHODS:
        raise InvalidInputError(f"prune method must be one of {', '.join(PRUNE_METHODS)}, got "
                                f"{method!r}")
    clone = copy.deepcopy(model).eval()
    for module in clone.modules():
        if isinstance(module, torch.nn.Linear):
            if method == "unstructured":
                torch_prune.l1_unstructured(module, "weight", amount=amount)  # type: ignore[no-untyped-call]
            else:
                torch_prune.ln_structured(module, "weight", amount=amount, n=2, dim=0)  # type: ignore[no-untyped-call]
            torch_prune.remove(module, "weight")  # type: ignore[no-untyped-call]
    return clone


_LAYER_KEYS = ("num_hidden_layers", "n_layer", "num_layers")


def _student(teacher: Any, layers: int) -> Any:
    config = copy.deepcopy(teacher.config)
    key = next((k for k in _LAYER_KEYS if isinstance(getattr(config, k, None), int)), None)
    if key is None:
        raise InvalidInputError(f"cannot find the layer count of {type(teacher).__name__}'s "
                                f"config (looked for {', '.join(_LAYER_KEYS)})")
    if not 1 <= layers < getattr(config, key):
        raise InvalidInputError(f"student_layers must be between 1 and {getattr(config, key) - 1}"
                                f" (the teacher has {getattr(config, key)}), got {layers!r}")
    setattr(config, key, layers)
    student = type(teacher)(config)
    student.load_state_dict(teacher.state_dict(), strict=False)  # shared embeddings, layers < k
    return student


def distil(teacher: Any, tokenizer: Any, texts: Sequence[str], *, steps: int = 50,
           layers: int = 1, batch_size: int = 16, lr: float = 1e-3, temperature: float = 2.0,
           max_length: int = 128, seed: int = 0) -> Any:
    """A student with ``layers`` layers trained on the teacher's outputs for ``steps`` steps.

    Works for models whose forward returns ``logits`` (classifiers, causal language models).

    Raises:
        InvalidInputError: bad ``steps``/``layers``, no texts, or a model without logits.
    """
    import torch

    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
        raise InvalidInputError(f"distil_steps must be a whole number >= 1, got {steps!r}")
    if not texts:
        raise InvalidInputError("distillation needs the workload's texts to train on")
    torch.manual_seed(seed)
    teacher = teacher.eval()
    student = _student(teacher, layers).train()
    optimiser = torch.optim.AdamW(student.parameters(), lr=lr)
    generator = torch.Generator().manual_seed(seed)
    for _ in range(steps):
        pick = torch.randint(len(texts), (min(batch_size, len(texts)),),
                             generator=generator).tolist()
        encoded = tokenizer([str(texts[i]) for i in pick], padding=True, truncation=True,
                            max_length=max_length, return_tensors="pt")
        with torch.no_grad():
            target = getattr(teacher(**encoded), "logits", None)
        if target is None:
            raise InvalidInputError(f"{type(teacher).__name__} returns no logits: distillation "
                                    "supports classifiers and causal language models")
        logits = student(**encoded).logits
        loss = torch.nn.functional.kl_div(
            torch.log_softmax(logits / temperature, dim=-1).flatten(0, -2),
            torch.softmax(target / temperature, dim=-1).flatten(0, -2),
            reduction="batchmean") * temperature ** 2
        loss.backward()  # type: ignore[no-untyped-call]
        optimiser.step()
        optimiser.zero_grad()
    return student.eval()


def make(method: str, maker: Callable[[], Any], *, sensors: Sequence[Any] | None = None,
         save: bool = False, db: str | None = None, project: str = "compare:make",
         region: str | None = None, interval_s: float | None = None,
         details: dict[str, Any] | None = None) -> MadeVariant:
    """Run ``maker()`` under :func:`wattlm.track`; the measured energy is the making cost."""
    from wattlm.tracking.tracker import track

    tracker = track(sensors=sensors, save=save, db=db, project=project, region=region,
                    interval_s=interval_s)
    with tracker:
        model = maker()
    record = tracker.result
    assert record is not None
    return MadeVariant(model, method, record.energy_j, record.duration_s,
                       record.provenance.value if record.provenance else None, record.id,
                       dict(details or {}))
