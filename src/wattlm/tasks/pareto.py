"""The Pareto set over any number of objectives (energy, quality, fairness, ...)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from wattlm.errors import InvalidInputError

__all__ = ["pareto_set"]


def pareto_set(points: Mapping[str, Sequence[float]], senses: Sequence[str]) -> list[str]:
    """Names of the points that no other point dominates.

    Args:
        points: name -> one value per objective.
        senses: ``"min"`` or ``"max"`` per objective (energy ``min``, quality ``max``).

    ``a`` dominates ``b`` when it is at least as good on every objective and strictly better on
    one; equal points do not dominate each other. Order: first objective (best first), then
    name.
    """
    signs = []
    for sense in senses:
        if sense not in ("min", "max"):
            raise InvalidInputError(f"objective sense must be 'min' or 'max', got {sense!r}")
        signs.append(1.0 if sense == "min" else -1.0)
    keyed = {}
    for name, values in points.items():
        if len(values) != len(signs):
            raise InvalidInputError(f"point {name!r} has {len(values)} values for "
                                    f"{len(signs)} objectives")
        keyed[name] = tuple(s * float(v) for s, v in zip(signs, values))

    def dominates(a: tuple[float, ...], b: tuple[float, ...]) -> bool:
        return all(x <= y for x, y in zip(a, b)) and any(x < y for x, y in zip(a, b))

    front = [n for n, v in keyed.items()
             if not any(dominates(o, v) for m, o in keyed.items() if m != n)]
    return sorted(front, key=lambda n: (keyed[n][0] if keyed[n] else 0.0, n))
