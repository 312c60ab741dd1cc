"""Fitted serving constants: time and power calibrated together on measured rows.

Model (ideal times from :func:`wattlm.estimate.serving.step_features`, s):

* decode step (time per output token a user sees, ITL):
  ``t_step = a_m[g] M + a_c[g] C + a_k K + tau_0[e] + tau_seq[e] b``;
* mean step with chunked prefill: ``t_eff = t_step + a_p P``;
* device power as a fraction of TDP: ``P/TDP = p_0 + p_c u_c + p_m u_m`` with the busy shares
  ``u_c = (a_c C + a_p P) / t_eff`` and ``u_m = (a_m M + a_k K) / t_eff`` (capped at 1);
* accelerator energy per output token ``= devices x P x t_eff / B``.

``g`` is the (part, precision) group, ``e`` the engine (``a_p`` and the power constants are per
engine). ``1/a_m`` and ``1/a_c`` are the achieved fractions of peak bandwidth and FLOP/s. The time
constants are found by one linear least-squares fit, iteratively reweighted towards the log error,
with a weak ridge towards physical priors (:data:`PRIORS`) and ``1/efficiency >= 1``, on the
measured step (v3 median ITL, v2 mean TPOT) and mean step (``batch / throughput``) of both
ML.ENERGY sets; the
power constants by a second linear fit per engine on the measured power per GPU (v3
``avg_power_watts``; v2 energy per token x throughput), using the fitted busy shares, so that a
right energy cannot come from a wrong time and a compensating power. Which rows: see
:mod:`wattlm.estimate.inference_data` and ``docs/methodology/estimation-inference.md``.

Run ``python -m wattlm.estimate.calibration`` to refit and rewrite
``estimate/data/inference_calibration.json``; a test checks the shipped file equals a fresh fit.
"""

from __future__ import annotations

import json
import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from typing import TYPE_CHECKING, Any

from wattlm._caches import cached
from wattlm.errors import DataError

if TYPE_CHECKING:  # pragma: no cover
    from wattlm.estimate.inference_data import Case
    from wattlm.estimate.serving import StepFeatures

__all__ = [
    "PRIORS",
    "Constants",
    "Prediction",
    "fit",
    "fit_document",
    "load_constants",
    "predict",
    "quantile",
    "range_quantiles",
]

#: Physical priors the fit shrinks towards (weakly): achieved bandwidth 75 %, decode FLOP/s 50 %,
#: prefill FLOP/s 50 %, nominal collectives, 3 ms per step and 20 us per sequence of scheduling.
PRIORS: dict[str, float] = {"a_m": 1 / 0.75, "a_c": 1 / 0.5, "a_k": 1.0, "a_p": 1 / 0.5,
                            "tau_0": 3e-3, "tau_seq": 2e-5}
#: An unfitted low precision on a part falls back to the part's 16-bit constants times this
#: factor (the bytes / peak ratio), i.e. no speed-up over 16 bits is assumed: on the v3 rows the
#: fitted fp8 constants are 1.6-1.9x the bf16 ones (H100, B200), dequantising kernels.
PRECISION_SPEEDUP: dict[str, float] = {"fp8": 2.0, "int8": 2.0, "fp4": 4.0, "int4": 4.0,
                                       "fp32": 0.5}
#: Ridge weight per prior (in units of one row's squared relative error).
RIDGE = 2.0
#: Quantiles of cross-validated log ratios that bound the ranges (90 % nominal; about 80 % of a
#: new family's rows fall inside, measured by ``wattlm validate``).
RANGE_QUANTILES = (0.05, 0.95)
#: A calibration group needs this many measured rows for its own range quantiles ...
MIN_GROUP_ROWS = 50
#: ... else the pooled quantiles are widened by this factor (log-width): fp8 on H100 and B200
#: (26 and 35 rows) and every part / precision / engine without rows.
FEW_ROWS_WIDEN = 1.3


@dataclass(frozen=True)
class Constants:
    """The fitted constants (see the module docstring for their meaning)."""

    groups: dict[str, tuple[float, float]]
    group_rows: dict[str, int]
    a_k: float
    a_p: float
    engines: dict[str, tuple[float, float]]
    power: tuple[float, float, float]
    engine_power: dict[str, tuple[float, float, float]] | None = None
    engine_prefill: dict[str, float] | None = None

    def prefill_of(self, engine: str) -> float:
        """``a_p`` (1 / prefill efficiency) of an engine (the current engine's where unfitted)."""
        return (self.engine_prefill or {}).get(engine, self.a_p)

    def power_of(self, engine: str) -> tuple[float, float, float]:
        """(p0, p_c, p_m) of an engine (the pooled fit where the engine has none)."""
        return (self.engine_power or {}).get(engine, self.power)

    def group(self, key: str) -> tuple[tuple[float, float], bool]:
        """(a_m, a_c) of a group and whether it was fitted (else pooled over same precision)."""
        if key in self.groups:
            return self.groups[key], True
        if "@" in key:  # an older engine on a part it was not measured on: the current one's
            return self.group(key.split("@")[0])[0], False
        part, precision = key.rsplit("/", 1)
        for base in ("bf16", "fp16"):
            ref = self.groups.get(f"{part}/{base}")
            if ref is not None:
                ratio = PRECISION_SPEEDUP.get(precision, 1.0)
                return (ref[0] * ratio, ref[1] * ratio), False
        same = [v for k, v in self.groups.items() if k.endswith("/" + precision)] or \
            list(self.groups.values())
        return (statistics.median(v[0] for v in same),
                statistics.median(v[1] for v in same)), False

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {"groups": {k: list(v) for k, v in sorted(self.groups.items())},
                "group_rows": dict(sorted(self.group_rows.items())),
                "a_k": self.a_k, "a_p": self.a_p,
                "engines": {k: list(v) for k, v in sorted(self.engines.items())},
                "power": list(self.power),
                "engine_power": {k: list(v) for k, v in sorted((self.engine_power or {}).items())},
                "engine_prefill": dict(sorted((self.engine_prefill or {}).items()))}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Constants:
        """Inverse of :meth:`to_dict`."""
        return cls({k: (float(v[0]), float(v[1])) for k, v in d["groups"].items()},
                   {k: int(v) for k, v in d["group_rows"].items()}, float(d["a_k"]),
                   float(d["a_p"]), {k: (float(v[0]), float(v[1]))
                                     for k, v in d["engines"].items()},
                   (float(d["power"][0]), float(d["power"][1]), float(d["power"][2])),
                   {k: (float(v[0]), float(v[1]), float(v[2]))
                    for k, v in d.get("engine_power", {}).items()},
                   {k: float(v) for k, v in d.get("engine_prefill", {}).items()})


@dataclass(frozen=True)
class Prediction:
    """Predicted step times (s), power fraction of TDP and whether the group was fitted."""

    step_s: float
    mean_step_s: float
    power_fraction: float
    fitted_group: bool


def predict(f: StepFeatures, group: str, engine: str, c: Constants,
            memory_s: float | None = None) -> Prediction:
    """Step times and power fraction of one configuration (formulas in the module docstring)."""
    (a_m, a_c), fitted = c.group(group)
    tau0, tau_seq = c.engines.get(engine, c.engines.get("vllm-current", (PRIORS["tau_0"],
                                                                         PRIORS["tau_seq"])))
    mem = f.memory_s if memory_s is None else memory_s
    step = a_m * mem + a_c * f.compute_s + c.a_k * f.collective_s + tau0 + \
        tau_seq * f.batch_per_replica
    a_p = c.prefill_of(engine)
    mean = step + a_p * f.prefill_s
    u_c = min(1.0, (a_c * f.compute_s + a_p * f.prefill_s) / mean)
    u_m = min(1.0, (a_m * mem + c.a_k * f.collective_s) / mean)
    p0, pc, pm = c.power_of(engine)
    return Prediction(step, mean, min(1.0, max(0.05, p0 + pc * u_c + pm * u_m)), fitted)


def _solve(a: list[list[float]], b: list[float]) -> list[float]:
    """Gaussian elimination with partial pivoting (small dense systems)."""
    n = len(b)
    m = [row[:] + [b[i]] for i, row in enumerate(a)]
    for col in range(n):
        pivot = max(range(col, n), key=lambda r: abs(m[r][col]))
        m[col], m[pivot] = m[pivot], m[col]
        if abs(m[col][col]) < 1e-300:
            raise DataError("calibration system is singular")
        for r in range(col + 1, n):
            factor = m[r][col] / m[col][col]
            if factor:
                for k in range(col, n + 1):
                    m[r][k] -= factor * m[col][k]
    x = [0.0] * n
    for r in range(n - 1, -1, -1):
        x[r] = (m[r][n] - sum(m[r][k] * x[k] for k in range(r + 1, n))) / m[r][r]
    return x


def _ridge_fit(rows: Sequence[tuple[dict[int, float], float]], priors: list[float],
               lower: Sequence[float] | None = None, rounds: int = 3) -> list[float]:
    """Minimise ``sum(((x.theta - y) / d)^2) + RIDGE sum((theta/prior - 1)^2)``.

    ``d = y`` in the first round (relative error), then ``d = sqrt(y yhat)`` with the previous
    round's prediction (iteratively reweighted: close to the log error, so over- and
    under-estimates by the same factor weigh the same). ``lower`` bounds (e.g. 1 for
    ``1/efficiency``: no part beats its datasheet peak) are enforced by fixing violating
    coefficients at their bound and solving again.
    """
    denominators = [y for _, y in rows]
    theta: list[float] = []
    for _ in range(rounds):
        theta = _ridge_round(rows, denominators, priors, lower)
        denominators = [math.sqrt(y * max(sum(theta[j] * v for j, v in x.items()), 1e-3 * y))
                        for x, y in rows]
    return theta


def _ridge_round(rows: Sequence[tuple[dict[int, float], float]], denominators: list[float],
                 priors: list[float], lower: Sequence[float] | None) -> list[float]:
    """One weighted ridge solve (see :func:`_ridge_fit`)."""
    n = len(priors)
    bounds = list(lower) if lower is not None else [0.0] * n
    fixed: dict[int, float] = {}
    while True:
        free = [j for j in range(n) if j not in fixed]
        index = {j: i for i, j in enumerate(free)}
        ata = [[0.0] * len(free) for _ in free]
        atb = [0.0] * len(free)
        for (x, y), d in zip(rows, denominators, strict=True):
            scaled = {j: v * priors[j] / d for j, v in x.items() if v}
            target = y / d - sum(v * fixed[j] / priors[j] for j, v in scaled.items()
                                 if j in fixed)
            cols = {index[j]: v for j, v in scaled.items() if j in index}
            for a, va in cols.items():
                atb[a] += va * target
                row = ata[a]
                for b, vb in cols.items():
                    row[b] += va * vb
        for a in range(len(free)):
            ata[a][a] += RIDGE
            atb[a] += RIDGE
        phi = _solve(ata, atb) if free else []
        theta = dict(fixed)
        theta.update({j: phi[index[j]] * priors[j] for j in free})
        bad = [j for j in free if theta[j] < max(bounds[j], 0.05 * priors[j])]
        if not bad:
            return [theta[j] for j in range(n)]
        for j in bad:
            fixed[j] = max(bounds[j], 0.05 * priors[j])


def fit(cases: Sequence[Case]) -> Constants:
    """Fit the time constants, then the power constants, on ``cases``."""
    groups = sorted({c.group for c in cases})
    engines = sorted({c.engine for c in cases})
    gi = {g: 2 * i for i, g in enumerate(groups)}
    k_i = 2 * len(groups)
    ei = {e: k_i + 1 + 3 * i for i, e in enumerate(engines)}  # tau_0, tau_seq, a_p per engine
    priors = [PRIORS["a_m"], PRIORS["a_c"]] * len(groups) + [PRIORS["a_k"]] + \
        [PRIORS["tau_0"], PRIORS["tau_seq"], PRIORS["a_p"]] * len(engines)
    rows: list[tuple[dict[int, float], float]] = []
    for c in cases:
        f = c.features
        base = {gi[c.group]: f.memory_s, gi[c.group] + 1: f.compute_s, k_i: f.collective_s,
                ei[c.engine]: 1.0, ei[c.engine] + 1: f.batch_per_replica}
        if c.step_s is not None:
            rows.append((base, c.step_s))
        if c.mean_step_s is not None:
            rows.append(({**base, ei[c.engine] + 2: f.prefill_s}, c.mean_step_s))
    lower = [1.0, 1.0] * len(groups) + [0.0] + [0.0, 0.0, 1.0] * len(engines)
    theta = _ridge_fit(rows, priors, lower)
    prefill = {e: theta[ei[e] + 2] for e in engines}
    consts = Constants(
        {g: (theta[gi[g]], theta[gi[g] + 1]) for g in groups},
        {g: sum(1 for c in cases if c.group == g) for g in groups}, theta[k_i],
        prefill.get("vllm-current", statistics.fmean(prefill.values())),
        {e: (theta[ei[e]], theta[ei[e] + 1]) for e in engines}, (0.3, 0.3, 0.3),
        None, prefill)
    per_engine: dict[str, tuple[float, float, float]] = {}
    pooled: list[tuple[dict[int, float], float]] = []
    for engine in engines:
        rows_e = _power_rows([c for c in cases if c.engine == engine], consts)
        pooled += rows_e
        if rows_e:
            p = _ridge_fit(rows_e, [0.35, 0.5, 0.3])
            per_engine[engine] = (p[0], p[1], p[2])
    power = (0.3, 0.3, 0.3)
    if pooled:
        p = _ridge_fit(pooled, [0.35, 0.5, 0.3])
        power = (p[0], p[1], p[2])
    return Constants(consts.groups, consts.group_rows, consts.a_k, consts.a_p, consts.engines,
                     power, per_engine, consts.engine_prefill)


def _power_rows(cases: Sequence[Case], consts: Constants,
                ) -> list[tuple[dict[int, float], float]]:
    """Rows ``P/TDP ~ p0 + p_c u_c + p_m u_m`` with the busy shares of the fitted time model."""
    rows: list[tuple[dict[int, float], float]] = []
    for c in cases:
        if c.power_fraction is None:
            continue
        pred = predict(c.features, c.group, c.engine, consts)
        a_m, a_c = consts.groups[c.group]
        u_c = min(1.0, (a_c * c.features.compute_s + consts.prefill_of(c.engine) *
                        c.features.prefill_s) / pred.mean_step_s)
        u_m = min(1.0, (a_m * c.features.memory_s + consts.a_k * c.features.collective_s) /
                  pred.mean_step_s)
        rows.append(({0: 1.0, 1: u_c, 2: u_m}, c.power_fraction))
    return rows


def _bounds(values: Sequence[float]) -> list[float]:
    ordered = sorted(values)
    return [quantile(ordered, RANGE_QUANTILES[0]), quantile(ordered, RANGE_QUANTILES[1])]


def fit_document(cases: Sequence[Case], cv_rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """The JSON shipped in ``inference_calibration.json``: constants and range quantiles.

    Quantiles of the cross-validated log ratios: pooled over every row, and per calibration
    group with at least :data:`MIN_GROUP_ROWS` rows (other groups use the pooled ones widened
    by :data:`FEW_ROWS_WIDEN`).
    """
    ranges = {"energy": _bounds([r["log_ratio_energy"] for r in cv_rows]),
              "tpot": _bounds([r["log_ratio_tpot"] for r in cv_rows])}
    groups: dict[str, dict[str, list[float]]] = {}
    for key in sorted({r["group"] for r in cv_rows}):
        rows = [r for r in cv_rows if r["group"] == key]
        if len(rows) >= MIN_GROUP_ROWS:
            groups[key] = {"energy": _bounds([r["log_ratio_energy"] for r in rows]),
                           "tpot": _bounds([r["log_ratio_tpot"] for r in rows])}
    return {"constants": fit(cases).to_dict(), "cv_log_ratio_quantiles": ranges,
            "group_log_ratio_quantiles": groups, "quantiles": list(RANGE_QUANTILES),
            "rows": len(cases),
            "method": "wattlm.estimate.calibration (leave-one-model-family-out residuals)"}


def quantile(ordered: Sequence[float], q: float) -> float:
    """Linear-interpolated ``q`` quantile of an ascending sequence (0 when empty)."""
    if not ordered:
        return 0.0
    pos = q * (len(ordered) - 1)
    lo = math.floor(pos)
    hi = min(lo + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)


@cached
def _document() -> dict[str, Any]:
    text = resources.files("wattlm.estimate").joinpath(
        "data", "inference_calibration.json").read_text("utf-8")
    doc: dict[str, Any] = json.loads(text)
    return doc


def load_constants() -> tuple[Constants, dict[str, list[float]]]:
    """The shipped constants and pooled cross-validated log-ratio quantiles (per quantity)."""
    doc = _document()
    return Constants.from_dict(doc["constants"]), {
        k: [float(v[0]), float(v[1])] for k, v in doc["cv_log_ratio_quantiles"].items()}


def range_quantiles(group: str) -> tuple[dict[str, list[float]], bool]:
    """Log-ratio quantiles for a group and whether they are its own (else pooled, widened)."""
    doc = _document()
    own = doc.get("group_log_ratio_quantiles", {}).get(group)
    if own is not None:
        return own, True
    pooled = doc["cv_log_ratio_quantiles"]
    return {k: [v[0] * FEW_ROWS_WIDEN, v[1] * FEW_ROWS_WIDEN] for k, v in pooled.items()}, False


def main() -> None:  # pragma: no cover - maintenance entry point
    """Refit on the packaged rows and rewrite ``inference_calibration.json``."""
    from pathlib import Path

    from wattlm.estimate.inference_data import calibration_cases
    from wattlm.estimate.inference_validation import cross_validate

    cases = calibration_cases()
    doc = fit_document(cases, cross_validate(cases))
    path = Path(__file__).parent / "data" / "inference_calibration.json"
    path.write_text(json.dumps(doc, indent=1, sort_keys=True) + "\n", "utf-8")
    print(f"wrote {path}")


if __name__ == "__main__":  # pragma: no cover
    main()
