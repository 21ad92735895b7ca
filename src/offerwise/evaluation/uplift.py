"""Uplift metrics: Qini and uplift (AUUC) curves, uplift@k and calibration by decile.

Notation (rows sorted by predicted uplift, highest first; ``w`` = row weight, 1 unless IPW):
for the top ``t`` rows, ``N_T(t) = Σ w·T``, ``N_C(t) = Σ w·(1−T)``, ``Y_T(t) = Σ w·T·y``,
``Y_C(t) = Σ w·(1−T)·y``, ``N(t) = N_T(t) + N_C(t)``, and the observed uplift among them
``Δ(t) = Y_T(t)/N_T(t) − Y_C(t)/N_C(t)`` (a ratio with a zero denominator counts as 0, as in
scikit-uplift). ``Δ̄ = Δ(all rows)`` is the average uplift.

* Qini curve:   ``Q(t) = Y_T(t) − Y_C(t) · N_T(t) / N_C(t) = N_T(t) · Δ(t)``  (Radcliffe 2007)
* Uplift curve: ``U(t) = (Y_T(t)/N_T(t) − Y_C(t)/N_C(t)) · (N_T(t) + N_C(t)) = N(t) · Δ(t)``

Curves are evaluated at the end of each block of tied predictions (ties are never split) and start
at (0, 0); ``x(t) = N(t) / N`` is the share of rows (of total weight) targeted. ``qini``/``auuc``
are the areas under the curves over ``x ∈ [0, 1]`` (trapezoid rule).

Random-targeting baseline (the same for both curves): the rows a ranking puts in its top ``t``
earning the average uplift ``Δ̄``, i.e. ``B_Q(t) = Δ̄ · N_T(t)`` for the Qini curve and
``B_U(t) = Δ̄ · N(t) = x · U(1)`` for the uplift curve. The normalized scores are

    normalized = (A_model − A_random) / (A_oracle − A_random_oracle),
    A − A_random = ∫ (curve − B) dx,

so ``Q − B_Q = N_T(t)·(Δ(t) − Δ̄)`` and ``U − B_U = N(t)·(Δ(t) − Δ̄)`` have the same sign at every
cutoff: when the ranking's top rows beat (trail) the average uplift at every cutoff, both normalized
scores are positive (negative). A random ranking scores ≈ 0, the oracle 1 and an inverted ranking is
negative. For the uplift curve ``B_U`` is the straight line from (0, 0) to (1, U(1)), so
``A_random = U(1)/2``. For the Qini curve ``B_Q`` is that straight line only when the treated
share of the top rows is constant; the straight line ``x · Q(1)`` (the usual Qini baseline)
credits a ranking for merely putting treated rows first (when ``Δ̄ > 0``) or control rows first
(``Δ̄ < 0``), so with it normalized Qini and AUUC can disagree in sign on observational or
IPW-weighted logs (docs/measurement.md).

The oracle ranks by the realized outcome: treated rows by ``y`` descending first, control rows by
``y`` ascending last (score ``y·(2T−1)``; for 0/1 outcomes this is scikit-uplift's perfect Qini
ranking).

Non-randomized logs: pass ``propensity`` (P(T=1 | x) of the logging policy) to weight rows by
``T/e + (1−T)/(1−e)`` (inverse propensity), or any ``sample_weight``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal, cast

import numpy as np
import pandas as pd

from offerwise.errors import InputError

CurveKind = Literal["qini", "uplift"]
DEFAULT_KS: tuple[float, ...] = (0.1, 0.2, 0.3, 0.5)


@dataclass(frozen=True, slots=True)
class UpliftCurve:
    """A Qini or uplift curve: ``x`` share targeted (0..1), ``y`` curve value, both shape (m+1,).

    ``baseline`` (m+1,), when given, is the random-targeting curve at the same ``x``:
    ``Δ̄ · N_T(t)`` (Qini) or ``Δ̄ · N(t)`` (uplift), see the module docstring.
    """

    kind: CurveKind
    x: np.ndarray
    y: np.ndarray
    baseline: np.ndarray | None = None

    @property
    def area(self) -> float:
        """Area under the curve over x ∈ [0, 1] (trapezoid rule)."""
        return float(np.trapezoid(self.y, self.x))

    @property
    def random_area(self) -> float:
        """Area under the random-targeting baseline (trapezoid rule over the same ``x``).

        Without a ``baseline``: the straight line from (0, 0) to (1, y_end), area ``y_end / 2``.
        """
        if self.baseline is None:
            return float(self.y[-1]) / 2.0
        return float(np.trapezoid(self.baseline, self.x))


@dataclass(slots=True)
class UpliftMetrics:
    """Summary of how well a predicted uplift ranks customers.

    ``uplift_at_k`` maps the targeted share k to the observed treated-minus-control mean outcome
    among the top-k share; ``calibration`` is :func:`uplift_calibration`'s table.
    """

    qini: float
    auuc: float
    qini_normalized: float
    auuc_normalized: float
    uplift_at_k: dict[float, float]
    calibration: pd.DataFrame
    n: int
    n_treatment: int
    n_control: int
    qini_curve: UpliftCurve | None = field(default=None, repr=False)
    uplift_curve: UpliftCurve | None = field(default=None, repr=False)

    def to_dict(self) -> dict[str, object]:
        """JSON-ready summary (curves omitted; calibration as a list of records)."""
        return {
            "qini": _f(self.qini),
            "auuc": _f(self.auuc),
            "qini_normalized": _f(self.qini_normalized),
            "auuc_normalized": _f(self.auuc_normalized),
            "uplift_at_k": {str(k): _f(v) for k, v in self.uplift_at_k.items()},
            "calibration": [
                {k: (_f(v) if isinstance(v, float) else v) for k, v in r.items()}
                for r in self.calibration.to_dict(orient="records")
            ],
            "n": self.n,
            "n_treatment": self.n_treatment,
            "n_control": self.n_control,
        }


def _f(v: float) -> float | None:
    v = float(v)
    return None if not np.isfinite(v) else v


# --------------------------------------------------------------------------------------------
# inputs
# --------------------------------------------------------------------------------------------


def _prepare(
    y: np.ndarray,
    treatment: np.ndarray,
    prediction: np.ndarray,
    propensity: np.ndarray | None,
    sample_weight: np.ndarray | None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Validate and return float arrays (y, t, prediction, w), all shape (n,)."""
    y = np.asarray(y, dtype=float)
    n = y.shape[0] if y.ndim == 1 else -1
    if y.ndim != 1 or n == 0:
        raise InputError(f"y must be a non-empty 1-d array of outcomes, got shape {y.shape}")

    def vec(name: str, a: object) -> np.ndarray:
        arr = np.asarray(a, dtype=float)
        if arr.shape != (n,):
            raise InputError(f"{name} must have shape ({n},) like y, got {arr.shape}")
        bad = ~np.isfinite(arr)
        if bad.any():
            raise InputError(
                f"{name} has {int(bad.sum())} NaN or infinite value(s), "
                f"e.g. at row {int(np.flatnonzero(bad)[0])}"
            )
        return arr

    y = vec("y", y)
    t = vec("treatment", treatment)
    bad = (t != 0) & (t != 1)
    if bad.any():
        raise InputError(
            f"treatment must be 0/1, found {int(bad.sum())} other value(s), "
            f"e.g. {float(t[bad][0])!r}"
        )
    p = vec("prediction", prediction)
    w = np.ones(n)
    if propensity is not None:
        e = vec("propensity", propensity)
        bad = (e <= 0) | (e >= 1)
        if bad.any():
            raise InputError(
                f"propensity must lie in (0, 1) (probability of treatment), "
                f"{int(bad.sum())} value(s) outside, e.g. {float(e[bad][0])!r}"
            )
        w = w * np.where(t == 1, 1.0 / e, 1.0 / (1.0 - e))
    if sample_weight is not None:
        sw = vec("sample_weight", sample_weight)
        if (sw < 0).any():
            raise InputError(f"sample_weight has {int((sw < 0).sum())} negative value(s)")
        w = w * sw
    if w.sum() <= 0:
        raise InputError("all sample weights are zero")
    return y, t, p, w


@dataclass(frozen=True, slots=True)
class _Cum:
    """Cumulative sums over the rows sorted by prediction (descending), shape (n,)."""

    order: np.ndarray
    nt: np.ndarray
    nc: np.ndarray
    yt: np.ndarray
    yc: np.ndarray
    w: np.ndarray  # cumulative weight
    block_end: np.ndarray  # indices of the last row of each block of tied predictions


def _cumulate(y: np.ndarray, t: np.ndarray, p: np.ndarray, w: np.ndarray) -> _Cum:
    order = np.argsort(-p, kind="stable")
    ys, ts, ps, ws = y[order], t[order], p[order], w[order]
    wt, wc = ws * ts, ws * (1.0 - ts)
    block_end = np.append(np.flatnonzero(ps[1:] != ps[:-1]), len(ps) - 1)
    return _Cum(
        order,
        np.cumsum(wt),
        np.cumsum(wc),
        np.cumsum(wt * ys),
        np.cumsum(wc * ys),
        np.cumsum(ws),
        block_end,
    )


def _div(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    out = np.zeros(np.broadcast(a, b).shape)
    np.divide(a, b, out=out, where=b > 0)
    return out


def _curve_from(c: _Cum, kind: CurveKind) -> UpliftCurve:
    i = c.block_end
    nt, nc, yt, yc = c.nt[i], c.nc[i], c.yt[i], c.yc[i]
    if kind == "qini":
        val = yt - yc * _div(nt, nc)
    elif kind == "uplift":
        val = (_div(yt, nt) - _div(yc, nc)) * (nt + nc)
    else:
        raise InputError(f"curve kind must be 'qini' or 'uplift', got {kind!r}")
    # random targeting: the same rows earning the average uplift Δ̄ (module docstring)
    delta = float(_div(c.yt[-1:], c.nt[-1:])[0] - _div(c.yc[-1:], c.nc[-1:])[0])
    base = delta * (nt if kind == "qini" else nt + nc)
    base[-1] = val[-1]  # equal in exact arithmetic; keeps a constant ranking at exactly 0
    x = c.w[i] / c.w[-1]
    zero = np.zeros(1)
    return UpliftCurve(
        kind, np.concatenate([zero, x]), np.concatenate([zero, val]), np.concatenate([zero, base])
    )


# --------------------------------------------------------------------------------------------
# public functions
# --------------------------------------------------------------------------------------------


def uplift_curve(
    y: np.ndarray,
    treatment: np.ndarray,
    prediction: np.ndarray,
    *,
    kind: CurveKind = "uplift",
    propensity: np.ndarray | None = None,
    sample_weight: np.ndarray | None = None,
) -> UpliftCurve:
    """Qini (``kind='qini'``) or uplift curve of ``prediction`` (n,); see the module docstring."""
    return _curve_from(
        _cumulate(*_prepare(y, treatment, prediction, propensity, sample_weight)), kind
    )


def oracle_score(y: np.ndarray, treatment: np.ndarray) -> np.ndarray:
    """The oracle ranking score ``y·(2T−1)`` (n,): treated by outcome first, controls last."""
    return np.asarray(y, dtype=float) * (2.0 * np.asarray(treatment, dtype=float) - 1.0)


def perfect_curve(
    y: np.ndarray,
    treatment: np.ndarray,
    *,
    kind: CurveKind = "uplift",
    propensity: np.ndarray | None = None,
    sample_weight: np.ndarray | None = None,
) -> UpliftCurve:
    """The curve of the oracle ranking :func:`oracle_score`, the normalizer's upper reference."""
    return uplift_curve(
        y,
        treatment,
        oracle_score(y, treatment),
        kind=kind,
        propensity=propensity,
        sample_weight=sample_weight,
    )


def _normalized(model: UpliftCurve, oracle: UpliftCurve) -> float:
    """``(A_model − A_random) / (A_oracle − A_random_oracle)``; NaN unless the oracle beats
    random."""
    den = oracle.area - oracle.random_area
    if not den > 0:
        return float("nan")
    return (model.area - model.random_area) / den


def _uplift_at_k(c: _Cum, ks: Sequence[float]) -> dict[float, float]:
    n = len(c.nt)
    out: dict[float, float] = {}
    for k in ks:
        if not 0 < k <= 1:
            raise InputError(f"uplift@k: k must be a share in (0, 1], got {k!r}")
        m = max(1, int(np.ceil(k * n - 1e-9))) - 1
        if c.nt[m] > 0 and c.nc[m] > 0:
            out[float(k)] = float(c.yt[m] / c.nt[m] - c.yc[m] / c.nc[m])
        else:
            out[float(k)] = float("nan")
    return out


def uplift_at_k(
    y: np.ndarray,
    treatment: np.ndarray,
    prediction: np.ndarray,
    k: float | Sequence[float] = DEFAULT_KS,
    *,
    propensity: np.ndarray | None = None,
    sample_weight: np.ndarray | None = None,
) -> float | dict[float, float]:
    """Observed (weighted) treated mean − control mean among the top ``ceil(k·n)`` rows.

    Rows are ranked by ``prediction`` descending (ties in input order). NaN when the top rows hold
    no treated or no control row. A scalar ``k`` returns a float, a sequence a dict ``{k: value}``.
    """
    c = _cumulate(*_prepare(y, treatment, prediction, propensity, sample_weight))
    if np.isscalar(k):  # not a TypeGuard in numpy's stubs
        kf = float(cast(float, k))
        return _uplift_at_k(c, [kf])[kf]
    return _uplift_at_k(c, list(cast(Sequence[float], k)))


def _calibration(
    y: np.ndarray,
    t: np.ndarray,
    p: np.ndarray,
    w: np.ndarray,
    n_bins: int,
    order: np.ndarray | None = None,
) -> pd.DataFrame:
    n = len(y)
    if n_bins < 1:
        raise InputError(f"n_bins must be at least 1, got {n_bins}")
    if order is None:
        order = np.argsort(-p, kind="stable")
    b = np.empty(n, dtype=np.int64)
    b[order] = (np.arange(n) * n_bins) // n  # equal-count bins by rank, 0 = highest prediction
    nb = n_bins

    def s(v: np.ndarray) -> np.ndarray:
        return np.bincount(b, weights=v, minlength=nb)

    wt, wc = w * t, w * (1 - t)
    cnt = np.bincount(b, minlength=nb)
    cnt_t = np.bincount(b, weights=t, minlength=nb)
    sw, swt, swc = s(w), s(wt), s(wc)
    mt, mc = _div(s(wt * y), swt), _div(s(wc * y), swc)
    # weighted variances and Kish effective sizes for the standard error of the difference
    vt = _div(s(wt * y * y), swt) - mt**2
    vc = _div(s(wc * y * y), swc) - mc**2
    esst, essc = _div(swt**2, s(wt * wt)), _div(swc**2, s(wc * wc))
    ok = (swt > 0) & (swc > 0)
    obs = np.where(ok, mt - mc, np.nan)
    # unbiased variance / n with n = Kish size: v·ess/(ess−1)/ess = v/(ess−1)
    se = np.where(
        (esst > 1) & (essc > 1),
        np.sqrt(_div(np.maximum(vt, 0), esst - 1) + _div(np.maximum(vc, 0), essc - 1)),
        np.nan,
    )
    return pd.DataFrame(
        {
            "bin": np.arange(1, nb + 1),
            "n": cnt.astype(np.int64),
            "n_treatment": cnt_t.astype(np.int64),
            "n_control": (cnt - cnt_t).astype(np.int64),
            "predicted_uplift": np.where(sw > 0, _div(s(w * p), sw), np.nan),
            "observed_uplift": obs,
            "observed_se": se,
        }
    )


def uplift_calibration(
    y: np.ndarray,
    treatment: np.ndarray,
    prediction: np.ndarray,
    *,
    n_bins: int = 10,
    propensity: np.ndarray | None = None,
    sample_weight: np.ndarray | None = None,
) -> pd.DataFrame:
    """Predicted vs observed uplift per equal-count bin of the ranking (bin 1 = highest).

    Columns: bin, n, n_treatment, n_control, predicted_uplift (weighted mean prediction),
    observed_uplift (weighted treated mean − control mean; NaN if a group is empty) and
    observed_se (Welch standard error with Kish effective sizes).
    """
    y, t, p, w = _prepare(y, treatment, prediction, propensity, sample_weight)
    return _calibration(y, t, p, w, n_bins)


def uplift_metrics(
    y: np.ndarray,
    treatment: np.ndarray,
    prediction: np.ndarray,
    *,
    propensity: np.ndarray | None = None,
    sample_weight: np.ndarray | None = None,
    ks: Sequence[float] = DEFAULT_KS,
    n_bins: int = 10,
    keep_curves: bool = True,
) -> UpliftMetrics:
    """All uplift metrics of one binary comparison (treated vs control) in one sort.

    ``y`` (n,) outcome, ``treatment`` (n,) 0/1, ``prediction`` (n,) predicted uplift.

    ``qini``/``auuc`` = ``∫ Q dx`` / ``∫ U dx``; ``qini_normalized`` / ``auuc_normalized`` =
    ``∫ (C − B) dx / ∫ (C_oracle − B_oracle) dx`` with ``C`` the curve and ``B`` its
    random-targeting baseline: ``B_Q(t) = Δ̄ · N_T(t)``, ``B_U(t) = Δ̄ · N(t)`` (Δ̄ = overall
    treated-minus-control mean). Both numerators are ``∫ n(t) · (Δ(t) − Δ̄) dx`` with
    ``n = N_T`` (Qini) or ``N`` (AUUC), so the two scores share the sign whenever the top-``t``
    uplift ``Δ(t)`` stays on one side of ``Δ̄``.
    """
    y, t, p, w = _prepare(y, treatment, prediction, propensity, sample_weight)
    c = _cumulate(y, t, p, w)
    oc = _cumulate(y, t, oracle_score(y, t), w)
    q, u = _curve_from(c, "qini"), _curve_from(c, "uplift")
    oq, ou = _curve_from(oc, "qini"), _curve_from(oc, "uplift")
    n_t = int(t.sum())
    return UpliftMetrics(
        qini=q.area,
        auuc=u.area,
        qini_normalized=_normalized(q, oq),
        auuc_normalized=_normalized(u, ou),
        uplift_at_k=_uplift_at_k(c, ks),
        calibration=_calibration(y, t, p, w, n_bins, c.order),
        n=len(y),
        n_treatment=n_t,
        n_control=len(y) - n_t,
        qini_curve=q if keep_curves else None,
        uplift_curve=u if keep_curves else None,
    )


def uplift_metrics_by_offer(
    y: np.ndarray,
    offer: np.ndarray,
    predictions: Mapping[str, np.ndarray] | pd.DataFrame,
    *,
    control: str = "none",
    pscore: np.ndarray | None = None,
    ks: Sequence[float] = DEFAULT_KS,
    n_bins: int = 10,
) -> dict[str, UpliftMetrics]:
    """Per-offer metrics from a multi-offer log: offer k's rows against the ``control`` rows.

    ``y`` (n,) outcome; ``offer`` (n,) the logged offer id per row; ``predictions`` maps each
    offer id to its predicted uplift over control, shape (n,) (or a DataFrame with one column per
    offer). ``pscore`` (n,), optional, is the logging probability of the logged offer; rows are
    then weighted by ``1/pscore`` (IPW), which makes each two-arm comparison unbiased.
    Offers with no logged row or no control row are skipped.
    """
    offer = np.asarray(offer).astype(str)
    y = np.asarray(y, dtype=float)
    if offer.shape != y.shape:
        raise InputError(f"offer must have shape {y.shape} like y, got {offer.shape}")
    w = None
    if pscore is not None:
        ps = np.asarray(pscore, dtype=float)
        if ps.shape != y.shape:
            raise InputError(f"pscore must have shape {y.shape} like y, got {ps.shape}")
        bad = ~((ps > 0) & (ps <= 1))
        if bad.any():
            raise InputError(
                f"pscore must lie in (0, 1], {int(bad.sum())} value(s) outside, "
                f"e.g. {float(ps[bad][0])!r}"
            )
        w = 1.0 / ps
    is_ctrl = offer == control
    if not is_ctrl.any():
        raise InputError(f"no control rows: no logged row has offer '{control}'")
    cols = list(predictions.columns) if isinstance(predictions, pd.DataFrame) else list(predictions)
    out: dict[str, UpliftMetrics] = {}
    for k in cols:
        if k == control:
            continue
        mask = is_ctrl | (offer == k)
        if not (offer == k).any():
            continue
        pred = np.asarray(predictions[k], dtype=float)
        if pred.shape != y.shape:
            raise InputError(f"predictions['{k}'] must have shape {y.shape}, got {pred.shape}")
        out[str(k)] = uplift_metrics(
            y[mask],
            (offer[mask] == k).astype(float),
            pred[mask],
            sample_weight=None if w is None else w[mask],
            ks=ks,
            n_bins=n_bins,
        )
    return out


__all__ = [
    "UpliftCurve",
    "UpliftMetrics",
    "oracle_score",
    "perfect_curve",
    "uplift_at_k",
    "uplift_calibration",
    "uplift_curve",
    "uplift_metrics",
    "uplift_metrics_by_offer",
]
