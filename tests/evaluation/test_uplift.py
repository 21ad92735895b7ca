"""Uplift metrics: curves against a slow direct implementation, normalization, uplift@k, calibration."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from offerwise.errors import InputError
from offerwise.evaluation.uplift import (
    oracle_score,
    perfect_curve,
    uplift_at_k,
    uplift_calibration,
    uplift_curve,
    uplift_metrics,
    uplift_metrics_by_offer,
)


def _rct(seed: int, n: int = 2000, effect: float = 1.0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    t = rng.integers(0, 2, n).astype(float)
    tau = effect * x
    y = x + t * tau + rng.normal(size=n)
    return y, t, tau


def _slow_curves(y, t, pred, w=None):
    """Direct O(n²) definition: for every cutoff, loop over the top rows (no ties in pred)."""
    n = len(y)
    w = np.ones(n) if w is None else w
    order = sorted(range(n), key=lambda i: -pred[i])
    qini, upl, xs = [0.0], [0.0], [0.0]
    total = sum(w)
    for cut in range(1, n + 1):
        nt = nc = yt = yc = wsum = 0.0
        for i in order[:cut]:
            wsum += w[i]
            if t[i] == 1:
                nt += w[i]
                yt += w[i] * y[i]
            else:
                nc += w[i]
                yc += w[i] * y[i]
        qini.append(yt - (yc * nt / nc if nc > 0 else 0.0))
        rt = yt / nt if nt > 0 else 0.0
        rc = yc / nc if nc > 0 else 0.0
        upl.append((rt - rc) * (nt + nc))
        xs.append(wsum / total)
    return np.array(xs), np.array(qini), np.array(upl)


@pytest.mark.parametrize("weighted", [False, True])
def test_curves_match_direct_definition(weighted):
    rng = np.random.default_rng(3)
    n = 60
    y = rng.binomial(1, 0.4, n).astype(float) * rng.uniform(1, 5, n)
    t = rng.integers(0, 2, n).astype(float)
    pred = rng.normal(size=n)
    w = rng.uniform(0.5, 3.0, n) if weighted else None
    xs, q, u = _slow_curves(y, t, pred, w)
    cq = uplift_curve(y, t, pred, kind="qini", sample_weight=w)
    cu = uplift_curve(y, t, pred, kind="uplift", sample_weight=w)
    np.testing.assert_allclose(cq.x, xs)
    np.testing.assert_allclose(cq.y, q, atol=1e-10)
    np.testing.assert_allclose(cu.y, u, atol=1e-10)
    assert cq.area == pytest.approx(np.trapezoid(q, xs))
    m = uplift_metrics(y, t, pred, sample_weight=w)
    assert m.qini == pytest.approx(np.trapezoid(q, xs))
    assert m.auuc == pytest.approx(np.trapezoid(u, xs))


def test_ties_are_never_split():
    y, t, _ = _rct(0, n=500)
    const = np.zeros(500)
    c = uplift_curve(y, t, const, kind="qini")
    assert len(c.x) == 2  # (0,0) and the full population
    m = uplift_metrics(y, t, const)
    assert m.qini_normalized == pytest.approx(0.0, abs=1e-12)
    assert m.auuc_normalized == pytest.approx(0.0, abs=1e-12)
    # a coarsened prediction is evaluated only at block boundaries
    coarse = np.round(np.linspace(0, 1, 500), 1)
    assert len(uplift_curve(y, t, coarse).x) == len(np.unique(coarse)) + 1


def test_perfect_ranking_is_one_and_bounds_other_rankings():
    y, t, tau = _rct(1)
    m = uplift_metrics(y, t, oracle_score(y, t))
    assert m.qini_normalized == pytest.approx(1.0)
    assert m.auuc_normalized == pytest.approx(1.0)
    good = uplift_metrics(y, t, tau)
    assert 0.1 < good.qini_normalized < 1.0
    assert 0.1 < good.auuc_normalized < 1.0
    bad = uplift_metrics(y, t, -tau)
    assert bad.qini_normalized < -0.1 and bad.auuc_normalized < -0.1
    # the oracle curve is the normalizer's reference
    assert perfect_curve(y, t, kind="qini").area == pytest.approx(m.qini)


def test_random_ranking_is_about_zero():
    vals = []
    for seed in range(30):
        y, t, _ = _rct(seed, n=1000)
        rng = np.random.default_rng(1000 + seed)
        m = uplift_metrics(y, t, rng.normal(size=len(y)), keep_curves=False)
        vals.append((m.qini_normalized, m.auuc_normalized))
    v = np.array(vals)
    assert np.all(np.abs(v.mean(axis=0)) < 0.02)
    assert np.all(np.abs(v).max(axis=0) < 0.12)


def test_uplift_at_k_and_calibration_direct():
    y, t, tau = _rct(2, n=1000)
    res = uplift_at_k(y, t, tau, [0.1, 0.5, 1.0])
    order = np.argsort(-tau, kind="stable")
    for k, v in res.items():
        top = order[: int(np.ceil(k * len(y)))]
        yt, tt = y[top], t[top]
        assert v == pytest.approx(yt[tt == 1].mean() - yt[tt == 0].mean())
    assert uplift_at_k(y, t, tau, 0.1) == pytest.approx(res[0.1])
    assert res[0.1] > res[0.5] > res[1.0] - 0.3  # better customers first

    cal = uplift_calibration(y, t, tau, n_bins=10)
    assert list(cal["bin"]) == list(range(1, 11))
    assert cal["n"].sum() == len(y) and (cal["n"] == 100).all()
    assert (cal["n_treatment"] + cal["n_control"] == cal["n"]).all()
    first = order[:100]
    assert cal["predicted_uplift"].iloc[0] == pytest.approx(tau[first].mean())
    yf, tf = y[first], t[first]
    assert cal["observed_uplift"].iloc[0] == pytest.approx(yf[tf == 1].mean() - yf[tf == 0].mean())
    se = np.sqrt(yf[tf == 1].var(ddof=1) / (tf == 1).sum() + yf[tf == 0].var(ddof=1) / (tf == 0).sum())
    assert cal["observed_se"].iloc[0] == pytest.approx(se)
    # well-specified prediction: observed tracks predicted
    assert np.corrcoef(cal["predicted_uplift"], cal["observed_uplift"])[0, 1] > 0.95


def test_ipw_weights_remove_confounding():
    rng = np.random.default_rng(7)
    n = 40_000
    x = rng.normal(size=n)
    e = 1 / (1 + np.exp(-1.5 * x))  # treated customers have higher x ...
    t = (rng.uniform(size=n) < e).astype(float)
    y = 2 * x + 0.5 * t + rng.normal(size=n)  # ... and x raises the outcome; true ATE 0.5
    pred = rng.normal(size=n)
    naive = uplift_at_k(y, t, pred, 1.0)
    weighted = uplift_at_k(y, t, pred, 1.0, propensity=e)
    assert naive > 1.5
    assert weighted == pytest.approx(0.5, abs=0.1)
    cal = uplift_calibration(y, t, pred, n_bins=4, propensity=e)
    assert np.all(np.abs(cal["observed_uplift"] - 0.5) < 4 * cal["observed_se"] + 0.05)


def test_by_offer():
    rng = np.random.default_rng(5)
    n = 3000
    offer = rng.choice(["none", "a", "b"], size=n)
    x = rng.normal(size=n)
    y = x + np.where(offer == "a", x, 0.0) + np.where(offer == "b", -x, 0.0) + rng.normal(size=n)
    preds = pd.DataFrame({"a": x, "b": -x})
    res = uplift_metrics_by_offer(y, offer, preds, pscore=np.full(n, 1 / 3))
    assert set(res) == {"a", "b"}
    assert res["a"].n == int(((offer == "a") | (offer == "none")).sum())
    assert res["a"].qini_normalized > 0.1 and res["b"].qini_normalized > 0.1
    swapped = uplift_metrics_by_offer(y, offer, {"a": -x, "b": x})
    assert swapped["a"].qini_normalized < 0 and swapped["b"].qini_normalized < 0
    assert res["a"].to_dict()["n"] == res["a"].n


def test_bad_inputs():
    y, t, tau = _rct(0, n=50)
    with pytest.raises(InputError, match="treatment must be 0/1"):
        uplift_metrics(y, t * 2, tau)
    with pytest.raises(InputError, match=r"prediction must have shape \(50,\)"):
        uplift_metrics(y, t, tau[:10])
    with pytest.raises(InputError, match="NaN"):
        uplift_metrics(np.r_[np.nan, y[1:]], t, tau)
    with pytest.raises(InputError, match="propensity must lie in"):
        uplift_metrics(y, t, tau, propensity=np.ones(50))
    with pytest.raises(InputError, match="k must be a share"):
        uplift_at_k(y, t, tau, 1.5)
    with pytest.raises(InputError, match="non-empty"):
        uplift_metrics([], [], [])
    with pytest.raises(InputError, match="no control rows"):
        uplift_metrics_by_offer(y, np.full(50, "a"), {"a": tau})


def test_qini_and_auuc_share_the_random_targeting_baseline_and_the_sign():
    """A ranking worse than random at every cutoff that puts control-heavy rows first.

    Top block (1 treated y=3.8, 4 controls y=5): uplift −1.2; all rows: Δ̄ = 4.12 − 5 = −0.88.
    The straight Qini baseline ``x·Q(1)`` scored this +0.044 (AUUC −0.064): with Δ̄ < 0, putting
    few treated rows first looks "better than random" to it. Against ``Δ̄·N_T(t)`` it is negative.
    """
    y = np.array([3.8, 5, 5, 5, 5, 4.2, 4.2, 4.2, 4.2, 5])
    t = np.array([1, 0, 0, 0, 0, 1, 1, 1, 1, 0.0])
    pred = np.array([1.0] * 5 + [0.0] * 5)
    m = uplift_metrics(y, t, pred)
    q, u = m.qini_curve, m.uplift_curve
    np.testing.assert_allclose(q.y, [0, -1.2, -4.4])
    np.testing.assert_allclose(q.baseline, [0, -0.88 * 1, -0.88 * 5])  # Δ̄ · N_T(t)
    np.testing.assert_allclose(u.baseline, [0, -0.88 * 5, -0.88 * 10])  # Δ̄ · N(t) = x · U(1)
    assert u.random_area == pytest.approx(u.y[-1] / 2)
    # ∫(Q − B_Q) = 2 · 0.5 · (−1.2 + 0.88)/2 = −0.16; the old line x·Q(1) gave (−1.2 + 2.2)/2 = +0.5
    assert q.area - q.random_area == pytest.approx(-0.16)
    oq = perfect_curve(y, t, kind="qini")
    assert m.qini_normalized == pytest.approx(-0.16 / (oq.area - oq.random_area))
    assert m.qini_normalized < 0 and m.auuc_normalized < 0
    # and the mirror image: better than random at every cutoff -> both positive
    m2 = uplift_metrics(y, t, -pred)
    assert m2.qini_normalized > 0 and m2.auuc_normalized > 0


@pytest.mark.parametrize("seed", range(20))
def test_normalized_scores_agree_in_sign_under_confounded_treatment_share(seed):
    """Treated share drifts along the ranking (observational log); the ranking's top-t uplift
    stays below (or above) the average at every cutoff -> Qini and AUUC agree in sign."""
    rng = np.random.default_rng(seed)
    n = 400
    share = rng.uniform(0.05, 0.95, 4)  # treated share per block, block 0 ranked first
    tau = np.sort(rng.normal(-1.0, 0.6, 4))  # uplift per block, ascending: worst block first
    blk = np.repeat(np.arange(4), n // 4)
    t = (rng.uniform(size=n) < share[blk]).astype(float)
    t[blk * (n // 4)] = 1.0  # every block holds both arms
    t[blk * (n // 4) + 1] = 0.0
    y = 5.0 + t * tau[blk]  # noiseless: Δ(block) = tau exactly
    pred = 3.0 - blk.astype(float)
    m = uplift_metrics(y, t, pred)
    assert np.sign(m.qini_normalized) == np.sign(m.auuc_normalized) == -1
    up = uplift_metrics(y, t, -pred)
    assert np.sign(up.qini_normalized) == np.sign(up.auuc_normalized) == 1
