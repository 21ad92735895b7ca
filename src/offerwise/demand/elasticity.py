"""Own-price elasticity of units per category by double machine learning (partialling out).

Observations are product-weeks with sales (weeks as in :mod:`offerwise.demand.weekly`):
``Y = log(units)``, ``T = log(unit price paid) = log(amount / quantity)`` summed over the
product-week's lines. The paid price is used, not the shelf price ``(amount + discount) /
quantity``: the discount is where most price variation is, and customers respond to what they pay.
Controls ``W``: a fixed effect per product (product mix: cheap and dear products sell different
volumes) and per week (seasonality and category-wide demand shocks, e.g. promotions timed for busy
weeks).

Estimator (Chernozhukov et al. 2018, partialling out): cross-fitted (``folds``, seeded) ridge
regressions of ``Y`` and ``T`` on the one-hot ``W`` give residuals ``Y~``, ``T~``; the elasticity
is ``theta = sum(T~ Y~) / sum(T~^2)``. Its standard error is clustered by product (a product's
weeks are not independent): ``se^2 = G/(G-1) sum_g (sum_{i in g} T~_i e_i)^2 / (sum T~^2)^2``
with ``e = Y~ - theta T~`` (``G`` products); 90 % / 95 % intervals are ``theta -/+ t se`` with
Student's ``t`` quantile on ``G - 1`` degrees of freedom (1.645 / 1.96 for many products).

A category gets NaN and a ``reason`` instead of a number when it has too few observations,
products or weeks, or too little price variation left after the fixed effects.

**Competitor prices** (optional table ``competitor_prices``): ``C = log(median competitor
price)`` of the product-week (each rival's mean price that week, median over rivals) is a second
treatment, partialled out the same way; ``(theta, gamma)`` solve ``R'R b = R'Y~`` with
``R = [T~, C~]`` and the clustered sandwich ``(R'R)^-1 B (R'R)^-1`` gives both intervals.
``gamma`` is the cross-price elasticity: d log units / d log competitor price (> 0: a rival's
price rise sends us customers). A category uses it when at least 90 % of its product-weeks have a
competitor price (those rows only); otherwise ``competitor_effect`` is NaN.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import scipy.sparse as sp

from offerwise.demand.weekly import NO_CATEGORY, week_index
from offerwise.errors import DataContractError, Problem

__all__ = [
    "ELASTICITY_COLUMNS",
    "Elasticity",
    "ElasticitySpec",
    "PricePanel",
    "add_competitor_prices",
    "category_elasticities",
    "dml_elasticity",
    "price_panel",
]

#: Columns of an elasticity file.
ELASTICITY_COLUMNS = (
    "category",
    "elasticity",
    "se",
    "ci_low",
    "ci_high",
    "ci95_low",
    "ci95_high",
    "n_obs",
    "n_products",
    "n_weeks",
    "price_sd",
    "discount_depth",
    "dropped_zero_quantity",
    "reason",
    "competitor_effect",
    "competitor_ci_low",
    "competitor_ci_high",
)

#: A category's competitor effect needs a competitor price on at least this share of its rows.
COMPETITOR_COVERAGE = 0.9


@dataclass(frozen=True, slots=True)
class ElasticitySpec:
    """Settings: a product enters with sales in >= ``min_weeks`` weeks; a category needs >=
    ``min_obs`` product-weeks, >= 2 products or weeks to compare, and a residual log-price sd >=
    ``min_price_sd``; ``folds`` cross-fitting folds; ``alpha`` the ridge penalty."""

    min_weeks: int = 8
    min_obs: int = 100
    min_price_sd: float = 0.01
    folds: int = 5
    alpha: float = 1e-4
    seed: int = 42

    def __post_init__(self) -> None:
        from offerwise.errors import InputError

        if self.min_weeks < 2:
            raise InputError(f"--min-weeks {self.min_weeks}: must be at least 2")
        if self.min_obs < 10:
            raise InputError(f"--min-obs {self.min_obs}: must be at least 10")
        if self.folds < 2:
            raise InputError(f"folds {self.folds}: must be at least 2")


@dataclass(frozen=True, slots=True)
class PricePanel:
    """Product-weeks with sales: ``frame`` columns ``category``, ``product_id``, ``week`` (int,
    0 = last), ``units`` (> 0), ``paid`` (amount, > 0), ``shelf`` (amount + discount);
    ``dropped_zero_quantity`` lines with quantity 0 per category; ``free_product_weeks``
    product-weeks dropped because everything was free (paid 0)."""

    frame: pd.DataFrame
    dropped_zero_quantity: dict[str, int] = field(default_factory=dict)
    free_product_weeks: int = 0


def price_panel(lines: pd.DataFrame, as_of: pd.Timestamp, file: str = "transactions") -> PricePanel:
    """Product-week panel of ``lines`` (``product_id``, ``category``, ``ts``, ``quantity``,
    ``amount``, ``discount``) before ``as_of``.

    Lines with quantity 0 are dropped (counted per category). A line with quantity > 0 and no
    price at all (``amount + discount = 0``) has no unit price: :class:`DataContractError` naming
    the file, the columns, the count and an example.
    """
    past = lines.loc[pd.to_datetime(lines["ts"]) < as_of].copy()
    past["category"] = (
        past["category"].astype("string").fillna(NO_CATEGORY).replace("", NO_CATEGORY)
    )
    q0 = past["quantity"] <= 0
    zero_price = ~q0 & ((past["amount"] + past["discount"]) <= 0)
    if zero_price.any():
        ex = past.loc[zero_price].iloc[0]
        raise DataContractError(
            [
                Problem(
                    table="transactions",
                    column="amount, discount",
                    file=file,
                    message="zero unit price (quantity > 0 but amount + discount = 0)",
                    n_rows=int(zero_price.sum()),
                    example=f"product_id={ex['product_id']}, ts={ex['ts']}, "
                    f"quantity={ex['quantity']:g}, amount={ex['amount']:g}",
                )
            ],
            header=f"{file}: lines without a price (elasticity needs a unit price per line)",
        )
    dropped = past.loc[q0].groupby("category").size()
    past = past.loc[~q0]
    past["week"] = week_index(past["ts"], as_of)
    past["shelf"] = past["amount"] + past["discount"]
    g = past.groupby(["category", "product_id", "week"], sort=True, observed=True)
    frame = g.agg(units=("quantity", "sum"), paid=("amount", "sum"), shelf=("shelf", "sum"))
    frame = frame.reset_index()
    free = frame["paid"] <= 0
    frame = frame.loc[~free].reset_index(drop=True)
    return PricePanel(
        frame, {str(k): int(v) for k, v in dropped.items()}, free_product_weeks=int(free.sum())
    )


@dataclass(frozen=True, slots=True)
class Elasticity:
    """One estimate: ``estimate`` (d log units / d log price), clustered ``se``, 90 % and 95 %
    intervals, the data behind it; NaN numbers and a ``reason`` when not estimable."""

    estimate: float
    se: float
    ci90: tuple[float, float]
    ci95: tuple[float, float]
    n_obs: int
    n_products: int
    n_weeks: int
    price_sd: float
    reason: str = ""
    #: the cross-price elasticity to the competitors' median price and its 90 % interval
    competitor: float = math.nan
    competitor_ci90: tuple[float, float] = (math.nan, math.nan)


def _nan(n_obs: int, n_products: int, n_weeks: int, price_sd: float, why: str) -> Elasticity:
    nan = math.nan
    return Elasticity(nan, nan, (nan, nan), (nan, nan), n_obs, n_products, n_weeks, price_sd, why)


def _one_hot(codes: np.ndarray, n: int) -> sp.csr_matrix:
    m = len(codes)
    return sp.csr_matrix((np.ones(m), (np.arange(m), codes)), shape=(m, n))


def _residuals(
    W: sp.csr_matrix, targets: np.ndarray, folds: np.ndarray, k: int, alpha: float
) -> np.ndarray:
    """Out-of-fold residuals of each column of ``targets`` (n, 2) from a ridge on ``W``."""
    from sklearn.linear_model import Ridge

    res = np.empty_like(targets)
    for f in range(k):
        test = folds == f
        model = Ridge(alpha=alpha, solver="lsqr", tol=1e-8)
        model.fit(W[~test], targets[~test])
        res[test] = targets[test] - model.predict(W[test])
    return res


def dml_elasticity(
    log_units: np.ndarray,
    log_price: np.ndarray,
    product: np.ndarray,
    week: np.ndarray,
    spec: ElasticitySpec | None = None,
    log_comp: np.ndarray | None = None,
) -> Elasticity:
    """Partialling-out estimate of d log units / d log price with product and week fixed effects
    (arrays of one length: ``product``, ``week`` integer or string labels); with ``log_comp``
    (log competitor price) also the cross-price elasticity (module doc)."""
    spec = spec or ElasticitySpec()
    y = np.asarray(log_units, dtype=np.float64)
    t = np.asarray(log_price, dtype=np.float64)
    p_codes, p_names = pd.factorize(pd.Series(product), sort=True)
    w_codes, w_names = pd.factorize(pd.Series(week), sort=True)
    n, n_p, n_w = len(y), len(p_names), len(w_names)
    if n < spec.min_obs:
        return _nan(n, n_p, n_w, math.nan, f"too few observations ({n} < {spec.min_obs})")
    if n_w < 2:
        return _nan(n, n_p, n_w, math.nan, "sales in a single week only")
    W = sp.hstack([_one_hot(p_codes, n_p), _one_hot(w_codes, n_w)]).tocsr()
    rng = np.random.default_rng(spec.seed)
    folds = rng.permutation(np.arange(n) % spec.folds)
    cols = [y, t] if log_comp is None else [y, t, np.asarray(log_comp, dtype=np.float64)]
    res = _residuals(W, np.column_stack(cols), folds, spec.folds, spec.alpha)
    price_sd = float(np.std(res[:, 1]))
    if price_sd < spec.min_price_sd:
        return _nan(
            n,
            n_p,
            n_w,
            price_sd,
            f"too little price variation (log-price sd {price_sd:.4f} < {spec.min_price_sd} "
            "after product and week effects)",
        )
    if n_p < 2:
        return _nan(n, n_p, n_w, price_sd, "one product only (no clusters for the interval)")
    from scipy.stats import t as student

    z90, z95 = (float(student.ppf(q, n_p - 1)) for q in (0.95, 0.975))
    fit = _partialled_ols(res, p_codes, n_p)
    if fit is None:
        return _nan(n, n_p, n_w, price_sd, "own and competitor prices move together")
    b, se = fit
    theta = float(b[0])
    comp, comp_ci = math.nan, (math.nan, math.nan)
    if len(b) > 1:
        comp = float(b[1])
        comp_ci = (comp - z90 * float(se[1]), comp + z90 * float(se[1]))
    return Elasticity(
        theta,
        float(se[0]),
        (theta - z90 * float(se[0]), theta + z90 * float(se[0])),
        (theta - z95 * float(se[0]), theta + z95 * float(se[0])),
        n,
        n_p,
        n_w,
        price_sd,
        competitor=comp,
        competitor_ci90=comp_ci,
    )


def _partialled_ols(
    res: np.ndarray, p_codes: np.ndarray, n_p: int
) -> tuple[np.ndarray, np.ndarray] | None:
    """Coefficients and product-clustered standard errors of ``Y~`` on the treatment residuals:
    ``res`` (n, 1 + m) = (Y~, T~ [, C~]); ``b = (R'R)^-1 R'Y~``, ``V = (R'R)^-1 B (R'R)^-1``,
    ``B = G/(G-1) Σ_g s_g s_g'``, ``s_g = Σ_{i in g} R_i e_i``. None when ``R'R`` is singular."""
    ry, R = res[:, 0], res[:, 1:]
    A = R.T @ R
    if np.linalg.cond(A) > 1e10:
        return None
    b = np.linalg.solve(A, R.T @ ry)
    e = ry - R @ b
    g = np.column_stack(
        [np.bincount(p_codes, weights=R[:, j] * e, minlength=n_p) for j in range(R.shape[1])]
    )
    Ainv = np.linalg.inv(A)
    V = Ainv @ (n_p / (n_p - 1) * (g.T @ g)) @ Ainv
    return b, np.sqrt(np.diag(V))


def category_elasticities(panel: PricePanel, spec: ElasticitySpec | None = None) -> pd.DataFrame:
    """One row per category of ``panel`` (:data:`ELASTICITY_COLUMNS`), largest sales first."""
    spec = spec or ElasticitySpec()
    df = panel.frame
    weeks_per_product = df.groupby(["category", "product_id"], observed=True)["week"].transform(
        "size"
    )
    rows = []
    sales = df.groupby("category", observed=True)["paid"].sum().sort_values(ascending=False)
    for cat in sales.index:
        g = df[(df["category"] == cat) & (weeks_per_product >= spec.min_weeks)]
        depth = 1.0 - float(g["paid"].sum() / g["shelf"].sum()) if len(g) else math.nan
        comp = None
        if "comp" in g.columns and len(g) and g["comp"].notna().mean() >= COMPETITOR_COVERAGE:
            g = g[g["comp"].notna()]
            comp = np.log(g["comp"].to_numpy(dtype=np.float64))
        if g.empty:
            est = _nan(0, 0, 0, math.nan, f"no product with sales in >= {spec.min_weeks} weeks")
        else:
            est = dml_elasticity(
                np.log(g["units"].to_numpy(dtype=np.float64)),
                np.log(g["paid"].to_numpy(dtype=np.float64) / g["units"].to_numpy(np.float64)),
                g["product_id"].to_numpy(),
                g["week"].to_numpy(),
                spec,
                log_comp=comp,
            )
        rows.append(
            {
                "category": str(cat),
                "elasticity": est.estimate,
                "se": est.se,
                "ci_low": est.ci90[0],
                "ci_high": est.ci90[1],
                "ci95_low": est.ci95[0],
                "ci95_high": est.ci95[1],
                "n_obs": est.n_obs,
                "n_products": est.n_products,
                "n_weeks": est.n_weeks,
                "price_sd": est.price_sd,
                "discount_depth": depth,
                "dropped_zero_quantity": panel.dropped_zero_quantity.get(str(cat), 0),
                "reason": est.reason,
                "competitor_effect": est.competitor,
                "competitor_ci_low": est.competitor_ci90[0],
                "competitor_ci_high": est.competitor_ci90[1],
            }
        )
    return pd.DataFrame(rows, columns=list(ELASTICITY_COLUMNS))


def add_competitor_prices(
    panel: PricePanel, competitor_prices: pd.DataFrame, as_of: pd.Timestamp
) -> PricePanel:
    """``panel`` with column ``comp``: per product-week the median over competitors of each
    one's mean price that week (NaN where no competitor priced the product that week)."""
    cp = competitor_prices.loc[pd.to_datetime(competitor_prices["ts"]) < as_of]
    if not len(cp):
        return panel
    cp = cp.assign(week=week_index(cp["ts"], as_of), product_id=cp["product_id"].astype(str))
    per = cp.groupby(["product_id", "week", "competitor"], observed=True)["price"].mean()
    med = per.groupby(level=["product_id", "week"]).median().rename("comp").reset_index()
    frame = panel.frame.assign(product_id=panel.frame["product_id"].astype(str))
    frame = frame.merge(med, on=["product_id", "week"], how="left")
    return PricePanel(frame, panel.dropped_zero_quantity, panel.free_product_weeks)
