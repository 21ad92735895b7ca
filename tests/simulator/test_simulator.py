"""Tests of the market simulator: contract, reproducibility, heterogeneity, logging, truth."""

from __future__ import annotations

import itertools
import json

import numpy as np
import pandas as pd
import pytest
from simulator_testdata import profiles_from_transactions

from offerwise.data.contract import load_data
from offerwise.errors import ConfigError, InputError
from offerwise.simulator import (
    DEFAULT_OFFERS,
    NO_OFFER,
    OfferSpec,
    SimulatorConfig,
    offers_from_frame,
    oracle_policy,
    oracle_value,
    simulate,
    true_policy_value,
    true_policy_value_per_exposure,
    write_market,
)

ACTIONS = [NO_OFFER] + [o.offer_id for o in DEFAULT_OFFERS]


@pytest.fixture(scope="module")
def market():
    return simulate(n_customers=6000, n_exposures=15000, seed=7, logging="random")


@pytest.fixture(scope="module")
def legacy():
    return simulate(n_customers=6000, n_exposures=15000, seed=7, logging="legacy")


def _wide(truth: pd.DataFrame, col: str) -> pd.DataFrame:
    return truth.pivot(index="customer_id", columns="offer_id", values=col)[ACTIONS]


def _spearman(a: pd.Series, b: pd.Series) -> float:
    return float(a.rank().corr(b.rank()))


# ---------------------------------------------------------------------------- contract & output


def test_written_directory_is_a_valid_contract_data_directory(market, tmp_path):
    out = write_market(market, tmp_path / "sim")
    names = {p.name for p in out.iterdir()}
    assert names == {
        "customers.parquet",
        "products.parquet",
        "transactions.parquet",
        "offers.parquet",
        "exposures.parquet",
        "truth.parquet",
        "latent.parquet",
        "exposure_truth.parquet",
        "simulator.json",
        ".offerwise",  # marks the folder as a simulated shop (a rerun may replace it)
    }
    ds = load_data(out, required=("customers", "products", "transactions", "offers", "exposures"))
    assert ds.warnings == []
    assert ds.row_counts["exposures"] == 15000
    assert ds.row_counts["customers"] == 6000
    meta = json.loads((out / "simulator.json").read_text())
    assert meta["seed"] == 7 and meta["config"]["n_customers"] == 6000
    assert meta["config"]["logging"] == "random"
    assert set(meta["summary"]["response_types"]) == {
        "persuadable",
        "sure_thing",
        "lost_cause",
        "sleeping_dog",
    }
    # rewriting replaces the directory whole and leaves no temporary folders behind
    write_market(market, out)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["sim"]
    back = pd.read_parquet(out / "truth.parquet")
    pd.testing.assert_frame_equal(back, market.truth, check_dtype=False)


def test_columns_and_types(market):
    str_cols = {
        "customers": ["customer_id"],
        "products": ["product_id", "category", "brand"],
        "transactions": ["customer_id", "order_id", "product_id"],
        "offers": ["offer_id", "kind"],
        "exposures": ["customer_id", "offer_id"],
    }
    for name, cols in str_cols.items():
        df = market.tables()[name]
        for c in cols:
            assert pd.api.types.is_string_dtype(df[c]), (name, c, df[c].dtype)
    tx, ex = market.transactions, market.exposures
    assert list(tx.columns) == [
        "customer_id",
        "order_id",
        "product_id",
        "ts",
        "quantity",
        "amount",
        "discount",
    ]
    assert list(ex.columns) == [
        "customer_id",
        "offer_id",
        "ts",
        "propensity",
        "converted",
        "revenue",
        "discount_cost",
        "gross_profit",
    ]
    assert pd.api.types.is_datetime64_any_dtype(tx["ts"]) and pd.api.types.is_datetime64_any_dtype(
        ex["ts"]
    )
    assert pd.api.types.is_datetime64_any_dtype(market.customers["signup_date"])
    assert (tx[["quantity", "amount", "discount"]] >= 0).all().all()
    assert set(ex["converted"].unique()) <= {0, 1}
    assert (ex[["revenue", "discount_cost"]] >= 0).all().all()
    assert ((ex["converted"] == 0) <= (ex["revenue"] == 0)).all()
    assert set(ex["offer_id"]) <= set(ACTIONS)
    assert NO_OFFER not in set(market.offers["offer_id"])
    # the purchase history ends before the first decision; the campaign period's purchases
    # (orders 'W…') follow, and every converted exposure has its order in its attribution window
    hist = ~tx["order_id"].str.startswith("W")
    assert tx.loc[hist, "ts"].max() < ex["ts"].min() <= tx.loc[~hist, "ts"].min() + pd.Timedelta(days=1)
    conv = ex[ex["converted"] == 1]
    lines = conv[["customer_id", "ts", "revenue", "discount_cost"]].merge(
        tx[~hist], on="customer_id", suffixes=("_x", ""))
    hit = lines[(lines["ts"] >= lines["ts_x"]) & (lines["ts"] < lines["ts_x"] + pd.Timedelta(days=14))
                & (lines["amount"] == lines["revenue"]) & (lines["discount"] == lines["discount_cost"])]
    assert hit.drop_duplicates(["customer_id", "ts_x"]).shape[0] == len(conv)
    assert not ex.assign(day=ex["ts"].dt.floor("D")).duplicated(["customer_id", "day"]).any()
    assert market.customers["customer_id"].is_unique
    # compact but real history: ~10-30 rows per customer
    assert 8 <= len(tx) / len(market.customers) <= 30


def test_truth_table_identities(market):
    tr = market.truth
    k1 = len(DEFAULT_OFFERS) + 1
    assert len(tr) == 6000 * k1
    assert list(tr["offer_id"].iloc[:k1]) == ACTIONS
    assert ((tr["p_convert"] > 0) & (tr["p_convert"] < 1)).all()
    np.testing.assert_array_equal(tr["expected_cost"], tr["expected_discount_cost"])
    np.testing.assert_allclose(
        tr["expected_net_profit"], tr["expected_gross_profit"] - tr["expected_cost"]
    )
    none = tr[tr["offer_id"] == NO_OFFER]
    assert (none["incremental_profit"] == 0).all() and (none["expected_cost"] == 0).all()
    net = _wide(tr, "expected_net_profit")
    np.testing.assert_allclose(
        _wide(tr, "incremental_profit"), net.sub(net[NO_OFFER], axis=0), atol=1e-12
    )
    pc = _wide(tr, "p_convert")
    np.testing.assert_allclose(
        _wide(tr, "incremental_conversion"), pc.sub(pc[NO_OFFER], axis=0), atol=1e-12
    )
    # gross profit = margin × (revenue + discount), except free shipping (a waived fee keeps revenue)
    goods = tr["offer_id"] != "freeship"
    np.testing.assert_allclose(
        tr.loc[goods, "expected_gross_profit"],
        0.30 * (tr["expected_revenue"] + tr["expected_discount_cost"])[goods],
        rtol=1e-12,
    )
    ship = tr[~goods].reset_index(drop=True)
    np.testing.assert_allclose(
        ship["expected_gross_profit"], 0.30 * ship["expected_revenue"], rtol=1e-12
    )


# ---------------------------------------------------------------------------- reproducibility


def test_same_seed_same_market_different_seed_different():
    a = simulate(n_customers=800, n_exposures=1500, seed=11, logging="legacy")
    b = simulate(n_customers=800, n_exposures=1500, seed=11, logging="legacy")
    c = simulate(n_customers=800, n_exposures=1500, seed=12, logging="legacy")
    for name in ("customers", "products", "transactions", "offers", "exposures", "truth", "latent"):
        pd.testing.assert_frame_equal(getattr(a, name), getattr(b, name))
    for name in ("transactions", "exposures", "truth"):
        x, y = getattr(a, name), getattr(c, name)
        assert len(x) != len(y) or not x.equals(y), name


def test_logging_policy_does_not_change_customers_or_truth(market, legacy):
    for name in ("customers", "truth", "latent"):
        pd.testing.assert_frame_equal(getattr(market, name), getattr(legacy, name))
    # the purchase history before the campaigns is the same; what customers bought during the
    # campaigns depends on the offers they were given
    def hist(m):  # noqa: ANN001, ANN202
        return m.transactions[~m.transactions["order_id"].str.startswith("W")]
    pd.testing.assert_frame_equal(hist(market), hist(legacy))
    assert not market.exposures["offer_id"].equals(legacy.exposures["offer_id"])


# ---------------------------------------------------------------------------- heterogeneity


def test_response_types_all_present(market):
    shares = market.latent["response_type"].value_counts(normalize=True)
    for kind, lo, hi in [
        ("persuadable", 0.2, 0.8),
        ("sure_thing", 0.05, 0.4),
        ("lost_cause", 0.05, 0.5),
        ("sleeping_dog", 0.02, 0.1),
    ]:
        assert lo <= shares.get(kind, 0) <= hi, (kind, shares.to_dict())


def test_sure_things_gain_nothing_but_cost_more_with_deeper_discounts(market):
    lat = market.latent.set_index("customer_id")
    sure = lat.index[(lat["p_convert_none"] >= 0.7) & ~lat["sleeping_dog"]]
    assert len(sure) >= 100
    inc = _wide(market.truth, "incremental_conversion").loc[sure]
    cost = _wide(market.truth, "expected_cost").loc[sure]
    profit = _wide(market.truth, "incremental_profit").loc[sure]
    assert inc["pct30"].mean() < 0.03
    assert (cost["pct10"] > 0).all()
    assert (cost["pct10"] < cost["pct20"]).all() and (cost["pct20"] < cost["pct30"]).all()
    assert profit["pct10"].mean() > profit["pct20"].mean() > profit["pct30"].mean()
    assert (profit[["pct10", "pct20", "pct30"]] < 0).all().all()


def test_persuadables_exist_and_some_offers_pay(market):
    inc = _wide(market.truth, "incremental_conversion").drop(columns=NO_OFFER)
    profit = _wide(market.truth, "incremental_profit").drop(columns=NO_OFFER)
    assert (inc.max(axis=1) >= 0.15).mean() > 0.2
    assert (profit.max(axis=1) > 0).mean() > 0.1


def test_sleeping_dogs_are_hurt_by_every_offer(market):
    lat = market.latent.set_index("customer_id")
    dogs = lat.index[lat["sleeping_dog"]]
    assert len(dogs) > 50
    inc = _wide(market.truth, "incremental_conversion").loc[dogs].drop(columns=NO_OFFER)
    assert (inc < 0).all().all()
    others = _wide(market.truth, "incremental_conversion").drop(index=dogs).drop(columns=NO_OFFER)
    assert (others >= 0).all().all()


def test_lost_causes_stay_unlikely(market):
    lat = market.latent.set_index("customer_id")
    lost = lat.index[lat["p_convert_none"] < 0.03]
    assert len(lost) > 50
    assert _wide(market.truth, "p_convert").loc[lost].max(axis=1).quantile(0.9) < 0.12


def test_spend_threshold_only_helps_near_threshold_baskets(market):
    lat = market.latent.set_index("customer_id")
    inc = _wide(market.truth, "incremental_conversion")["spend50save10"]
    profit = _wide(market.truth, "incremental_profit")["spend50save10"]
    b = lat["basket"].reindex(inc.index)
    near, far_below, far_above = (b >= 37) & (b < 50), b < 22, b > 100
    assert min(near.sum(), far_below.sum(), far_above.sum()) > 20
    assert inc[far_below].mean() < 0.01
    assert inc[near].mean() > 3 * inc[far_below].mean()
    assert inc[near].mean() > 3 * inc[far_above].mean()
    assert (profit[far_above] < 0).mean() > 0.95
    assert profit[near].max() > 0


def test_optimal_policy_is_non_trivial(market):
    best = market.latent["best_offer"].value_counts(normalize=True)
    assert 0.3 <= best.get(NO_OFFER, 0) <= 0.9
    assert (best.drop(NO_OFFER, errors="ignore") >= 0.01).sum() >= 4
    # deepest discount to the least likely buyers is far worse than the optimum at the same budget
    lat = market.latent
    low = lat.loc[lat["p_convert_none"] <= lat["p_convert_none"].quantile(0.3), "customer_id"]
    naive = pd.DataFrame({"customer_id": low, "offer_id": "pct30"})
    cost = market.truth.merge(naive, on=["customer_id", "offer_id"])["expected_cost"].sum()
    v_naive = true_policy_value(market.truth, naive)
    v_opt = oracle_value(market.truth, budget=cost)
    assert v_naive < 0 < v_opt


# ---------------------------------------------------------------------------- logging policies


def test_random_logging_is_uniform(market):
    k1 = len(ACTIONS)
    np.testing.assert_allclose(market.exposures["propensity"], 1 / k1)
    freq = market.exposures["offer_id"].value_counts(normalize=True)
    n = len(market.exposures)
    assert (np.abs(freq - 1 / k1) < 4 * np.sqrt((1 / k1) * (1 - 1 / k1) / n)).all()


def test_legacy_propensities_are_exact_and_match_frequencies(legacy):
    probs, ex = legacy.logging_probs, legacy.exposures
    assert list(probs.columns) == ACTIONS and len(probs) == len(ex)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-12)
    assert probs.to_numpy().min() >= 0.02 - 1e-12
    chosen = probs.to_numpy()[np.arange(len(ex)), [ACTIONS.index(a) for a in ex["offer_id"]]]
    np.testing.assert_allclose(ex["propensity"], chosen)
    for a in ACTIONS:
        hits = (ex["offer_id"] == a).sum()
        expected, var = probs[a].sum(), (probs[a] * (1 - probs[a])).sum()
        assert abs(hits - expected) < 4.5 * np.sqrt(var), (a, hits, expected)
    assert probs.std().max() > 0.05  # actually depends on the customer


def test_legacy_targets_lapsed_customers_with_deep_discounts(legacy):
    ex = legacy.exposures.merge(
        legacy.latent[["customer_id", "p_convert_none", "lapsed"]], on="customer_id"
    )
    by = ex.groupby("offer_id")[["p_convert_none", "lapsed"]].mean()
    assert by.loc["pct30", "lapsed"] > 2 * by.loc[NO_OFFER, "lapsed"]
    assert by.loc["pct30", "p_convert_none"] < by.loc[NO_OFFER, "p_convert_none"] - 0.1


# ---------------------------------------------------------------------------- history realism


def test_history_features_track_latent_traits(market):
    tx = market.transactions.assign(gross=lambda d: d["amount"] + d["discount"])
    end = tx["ts"].max()
    orders = tx.groupby(["customer_id", "order_id"]).agg(
        ts=("ts", "first"), gross=("gross", "sum"), disc=("discount", "sum")
    )
    g = orders.groupby(level="customer_id")
    feat = pd.DataFrame(
        {
            "frequency": g.size(),
            "avg_basket": g["gross"].mean(),
            "recency": (end - g["ts"].max()).dt.days,
            "discount_share": g["disc"].sum() / g["gross"].sum(),
        }
    )
    lines = tx.merge(market.products[["product_id", "category", "brand"]], on="product_id")
    spend = lines.groupby(["customer_id", "category"])["gross"].sum().unstack(fill_value=0)
    feat["fresh_share"] = spend["fresh"] / spend.sum(axis=1)
    j = market.latent.set_index("customer_id").join(feat, how="inner")
    assert len(j) > 0.85 * len(market.latent)
    assert _spearman(j["frequency"], j["rate_now"]) > 0.6
    assert _spearman(j["avg_basket"], j["basket"]) > 0.8
    assert _spearman(j["recency"], j["p_convert_none"]) < -0.4
    assert _spearman(j["discount_share"], j["price_sensitivity"]) > 0.35
    assert _spearman(j["fresh_share"], j["pref_fresh"]) > 0.5
    assert j.loc[j["lapsed"], "recency"].median() > 2 * j.loc[~j["lapsed"], "recency"].median()
    prof = profiles_from_transactions(market.transactions, market.products).set_index("customer_id")
    j = j.join(prof[["top_brand_share", "top_national_brand_share", "private_label_share"]])
    assert _spearman(j["top_brand_share"], j["brand_loyalty"]) > 0.25
    assert _spearman(j["top_national_brand_share"], j["brand_loyalty"]) > 0.4
    assert _spearman(j["private_label_share"], j["private_label_pref"]) > 0.25


# ---------------------------------------------------------------------------- outcomes vs truth


def test_realized_outcomes_match_truth_within_sampling_error():
    m = simulate(n_customers=20000, n_exposures=60000, seed=3, logging="random")
    ex = m.exposures.assign(net=lambda d: d["gross_profit"] - d["discount_cost"])
    j = ex.merge(m.truth, on=["customer_id", "offer_id"], how="left")
    assert j["p_convert"].notna().all()
    pairs = [
        ("converted", "p_convert"),
        ("revenue", "expected_revenue"),
        ("discount_cost", "expected_discount_cost"),
        ("net", "expected_net_profit"),
    ]
    for offer, grp in j.groupby("offer_id"):
        for obs, exp in pairs:
            se = grp[obs].std(ddof=1) / np.sqrt(len(grp))
            diff = grp[obs].mean() - grp[exp].mean()
            if se == 0:
                assert abs(diff) < 1e-9, (offer, obs)
            else:
                assert abs(diff) < 4.5 * se + 0.003, (offer, obs, diff, se)


def test_ipw_on_logged_data_recovers_the_true_per_exposure_value(market):
    plan = oracle_policy(market.truth)[["customer_id", "offer_id"]]
    truth_value = true_policy_value_per_exposure(market.truth, market.exposures, plan)
    ex = market.exposures.merge(plan.rename(columns={"offer_id": "plan"}), on="customer_id")
    w = (ex["offer_id"] == ex["plan"]) / ex["propensity"]
    r = w * (ex["gross_profit"] - ex["discount_cost"])
    assert abs(r.mean() - truth_value) < 4 * r.std() / np.sqrt(len(r))
    none_value = true_policy_value_per_exposure(market.truth, market.exposures, plan.iloc[:0])
    assert truth_value > none_value


# ---------------------------------------------------------------------------- policy values


def test_policy_values(market):
    tr = market.truth
    ids = market.latent["customer_id"]
    assert true_policy_value(tr, pd.DataFrame({"customer_id": ids, "offer_id": NO_OFFER})) == 0.0
    best = market.latent[["customer_id", "best_offer"]].rename(columns={"best_offer": "offer_id"})
    assert true_policy_value(tr, best) == pytest.approx(oracle_value(tr), rel=1e-9)
    assert oracle_value(tr) > 0
    full = oracle_policy(tr)
    prev = -np.inf
    for budget in [0.0, 50.0, 200.0, 1000.0, full["expected_cost"].sum() * 2]:
        pol = oracle_policy(tr, budget)
        assert pol["expected_cost"].sum() <= budget + 1e-9
        v = true_policy_value(tr, pol)
        assert v >= prev - 1e-9
        prev = v
    assert prev == pytest.approx(oracle_value(tr))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_oracle_is_near_exact_on_a_small_instance(seed):
    rng = np.random.default_rng(seed)
    n, acts = 8, [NO_OFFER, "a", "b"]
    inc = np.column_stack([np.zeros(n), rng.normal(1, 1, (n, 2))])
    cost = np.column_stack([np.zeros(n), rng.uniform(0.5, 3, (n, 2))])
    truth = pd.DataFrame(
        {
            "customer_id": np.repeat([f"c{i}" for i in range(n)], 3),
            "offer_id": acts * n,
            "incremental_profit": inc.ravel(),
            "expected_cost": cost.ravel(),
        }
    )
    combos = np.array(list(itertools.product(range(3), repeat=n)))  # every assignment, (3^n, n)
    rows = np.arange(n)
    spend, value = cost[rows, combos].sum(axis=1), inc[rows, combos].sum(axis=1)
    budget = 0.4 * spend[value.argmax()]  # binding
    best = value[spend <= budget].max()
    pol = oracle_policy(truth, budget)
    assert pol["expected_cost"].sum() <= budget
    got = oracle_value(truth, budget)
    assert best - inc.max() - 1e-9 <= got <= best + 1e-9
    assert got > 0.5 * best


def test_policy_value_input_errors(market):
    tr = market.truth
    with pytest.raises(InputError, match="offer_id"):
        true_policy_value(tr, pd.DataFrame({"customer_id": ["C000001"]}))
    with pytest.raises(InputError, match="not in the truth table"):
        true_policy_value(tr, pd.DataFrame({"customer_id": ["C000001"], "offer_id": ["pct99"]}))
    with pytest.raises(InputError, match="duplicate"):
        true_policy_value(
            tr, pd.DataFrame({"customer_id": ["C000001"] * 2, "offer_id": ["pct10"] * 2})
        )
    with pytest.raises(InputError, match="customers not in the truth"):
        true_policy_value(tr, pd.DataFrame({"customer_id": ["X1"], "offer_id": ["pct10"]}))
    with pytest.raises(InputError, match="budget"):
        oracle_value(tr, budget=-1)


# ---------------------------------------------------------------------------- configuration


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"logging": "greedy"}, "logging"),
        ({"n_customers": 10, "n_exposures": 50}, "exceeds"),
        ({"margin_rate": 1.5}, "margin_rate"),
        ({"offers": (OfferSpec("g", "gift", 1.0),)}, "supports"),
        ({"offers": (OfferSpec("p", "percent_off", 5.0),)}, "fraction|in \\(0, 1\\)"),
        ({"offers": (OfferSpec("none", "amount_off", 5.0),)}, "unique"),
        ({"offers": (OfferSpec("a", "amount_off", 5.0, category="fresh"),)}, "scoped"),
        ({"min_propensity": 0.2}, "min_propensity"),
        ({"start_date": "not a date"}, "start_date"),
    ],
)
def test_config_errors(kwargs, match):
    with pytest.raises(ConfigError, match=match):
        SimulatorConfig(**kwargs)


def test_custom_menu_from_offers_frame(market):
    menu = offers_from_frame(market.offers.iloc[[0, 4]])
    assert [o.offer_id for o in menu] == ["pct10", "spend50save10"]
    assert menu[1].min_spend == 50.0 and menu[0].category is None
    m = simulate(n_customers=300, n_exposures=600, seed=1, offers=menu)
    assert set(m.truth["offer_id"]) == {NO_OFFER, "pct10", "spend50save10"}
    with pytest.raises(InputError, match="kind"):
        offers_from_frame(pd.DataFrame({"offer_id": ["a"], "value": [1.0]}))


# ---------------------------------------------------------------------------- profile bootstrap


def test_profiles_carry_their_joint_structure_into_the_traits():
    rng = np.random.default_rng(0)
    x = rng.standard_normal(3000)
    profiles = pd.DataFrame(
        {
            "frequency": np.exp(x),
            "discount_share": 0.3 / (1 + np.exp(2 * x)),
            "avg_basket": 40 + rng.normal(0, 5, 3000),
        }
    )
    m = simulate(n_customers=4000, n_exposures=100, seed=2, profiles=profiles)
    lat = m.latent
    assert _spearman(lat["rate"], lat["price_sensitivity"]) < -0.7  # built-in correlation is -0.1
    base = simulate(n_customers=4000, n_exposures=100, seed=2).latent
    assert _spearman(base["rate"], base["price_sensitivity"]) > -0.3


def test_profiles_from_simulated_history_round_trip(market, tmp_path):
    prof = profiles_from_transactions(market.transactions, market.products)
    assert {
        "frequency",
        "monetary",
        "avg_basket",
        "discount_share",
        "recency_days",
        "private_label_share",
        "top_brand_share",
        "top_national_brand_share",
    } <= set(prof.columns)
    assert (prof["top_national_brand_share"] <= prof["top_brand_share"] + 1e-12).all()
    m = simulate(n_customers=1000, n_exposures=2000, seed=4, profiles=prof, logging="legacy")
    out = write_market(m, tmp_path / "boot")
    meta = json.loads((out / "simulator.json").read_text())
    assert meta["config"]["profiles"]["n_rows"] == len(prof)
    load_data(out, required=("transactions", "exposures"))


def test_profile_errors():
    with pytest.raises(InputError, match="none of the columns"):
        simulate(n_customers=10, n_exposures=0, profiles=pd.DataFrame({"x": [1, 2]}))
    with pytest.raises(InputError, match="non-numeric"):
        simulate(n_customers=10, n_exposures=0, profiles=pd.DataFrame({"frequency": ["a", "2"]}))
    with pytest.raises(InputError, match="non-empty"):
        simulate(n_customers=10, n_exposures=0, profiles=pd.DataFrame({"frequency": []}))
