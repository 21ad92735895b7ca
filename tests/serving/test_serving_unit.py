"""Pure parts: discount maths, exploration propensities, key hashing, token bucket, migrations."""

from __future__ import annotations

import pytest

from offerwise.serving.pricing import Line, OfferTerms, quote
from offerwise.serving.security import RateLimiter, hash_secret, new_key_material, split_key
from offerwise.serving.service import choose_offer

LINES = [Line("p1", "DAIRY", 2, 3.00), Line("p2", "SNACKS", 1, 10.00), Line("p3", "DAIRY", 1, 1.50)]


@pytest.mark.parametrize(("offer", "expected", "reason"), [
    (OfferTerms("a", "percent_off", 0.10), 175, None),                  # 10% of 17.50
    (OfferTerms("a", "percent_off", 0.10, category="DAIRY"), 75, None),  # 10% of 7.50
    (OfferTerms("a", "amount_off", 10.0, category="DAIRY"), 750, None),  # capped at eligible
    (OfferTerms("a", "spend_threshold", 5.0, min_spend_cents=1500), 500, None),
    (OfferTerms("a", "spend_threshold", 5.0, min_spend_cents=2000), 0, "below_min_spend"),
    (OfferTerms("a", "gift", 4.0), 400, None),
    (OfferTerms("a", "bogo", 0.0, category="DAIRY"), 150, None),        # cheapest dairy unit
    (OfferTerms("a", "bogo", 0.0, category="SNACKS"), 0, "not_enough_items"),
    (OfferTerms("a", "amount_off", 5.0, category="MEAT"), 0, "wrong_category"),
])
def test_quote_per_kind(offer: OfferTerms, expected: int, reason: str | None) -> None:
    q = quote(offer, LINES, 17.50, shipping_fee=4.95)
    assert q.discount_cents == expected and q.reason == reason


def test_free_shipping_uses_cart_shipping_else_fee() -> None:
    o = OfferTerms("s", "free_shipping", 0.0)
    assert quote(o, LINES, 17.5, shipping=3.5, shipping_fee=4.95).discount_cents == 350
    assert quote(o, LINES, 17.5, shipping_fee=4.95).discount_cents == 495


def test_exploration_propensities_sum_to_one() -> None:
    eligible = ["a", "b", "c"]
    eps, k = 0.2, 4
    # enumerate the arms the draw can pick: every arm's logged propensity is (1-eps)1[plan]+eps/K
    seen = {}
    for i in range(400):
        u1, u2 = (i % 20) / 20 * 0.2 if i < 200 else 0.5, (i % 40) / 40
        arm, p, explored = choose_offer("b", eligible, eps, u1, u2)
        seen[arm] = p
        assert explored == (u1 < eps)
    assert set(seen) == {"none", "a", "b", "c"}
    assert seen["b"] == pytest.approx(1 - eps + eps / k)
    assert seen["a"] == pytest.approx(eps / k)
    assert sum(seen.values()) == pytest.approx(1.0)
    assert choose_offer("b", eligible, 0.0, 0.0, 0.9) == ("b", 1.0, False)


def test_key_material_roundtrip() -> None:
    key, key_id, salt, digest = new_key_material()
    parts = split_key(key)
    assert parts is not None and parts[0] == key_id
    assert hash_secret(salt, parts[1]) == digest and digest not in key
    assert split_key("ow_nothex__x") is None and split_key("bad") is None


def test_token_bucket() -> None:
    rl = RateLimiter(rate_per_s=2.0, burst=3)
    assert [rl.acquire("k", now=0.0) for _ in range(3)] == [0.0, 0.0, 0.0]
    assert rl.acquire("k", now=0.0) == pytest.approx(0.5)
    assert rl.acquire("k", now=0.6) == 0.0          # refilled 1.2 tokens
    assert rl.acquire("other", now=0.0) == 0.0      # buckets are per key


def test_tables_match_migrations(tmp_path) -> None:
    import sqlalchemy as sa

    from offerwise.serving.storage import Tables, make_engine, migrate

    eng = make_engine(f"sqlite:///{tmp_path}/m.db")
    assert migrate(eng) == [1, 2, 3, 4, 5, 6, 7, 8, 9, 10] and migrate(eng) == []
    insp = sa.inspect(eng)
    for name, table in Tables.get().metadata.tables.items():
        assert {c["name"] for c in insp.get_columns(name)} == set(table.c.keys()), name


def test_migration_2_keeps_coupons_and_their_redemptions(tmp_path) -> None:
    """A database made by migration 1 (with a redeemed coupon) upgrades: rows and foreign keys kept,
    and a second coupon of the same customer and campaign is allowed."""
    import sqlalchemy as sa

    from offerwise.serving.storage import list_migrations, make_engine, migrate

    eng = make_engine(f"sqlite:///{tmp_path}/old.db")
    first = list_migrations("sqlite")[0]
    assert first.version == 1
    with eng.begin() as c:
        c.exec_driver_sql("CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, "
                          "name TEXT NOT NULL, applied_ts DOUBLE PRECISION NOT NULL)")
        for stmt in first.statements():
            c.exec_driver_sql(stmt)
        c.exec_driver_sql("INSERT INTO schema_migrations VALUES (1, 'initial', 0)")
        c.exec_driver_sql("INSERT INTO campaigns (campaign_id, budget_cents, spent_cents, redemptions, "
                          "plan_fingerprint, active, created_ts) VALUES ('k', 100, 10, 1, 'f', 1, 0)")
        c.exec_driver_sql("INSERT INTO coupons VALUES ('A', 'k', 'c1', 'o', 0, 10, 1, 1)")
        c.exec_driver_sql("INSERT INTO redemptions VALUES ('r1', 'A', 'k', 'c1', 'o', NULL, 10, "
                          "'redeemed', 'key', 'i1', 1, NULL)")
    assert migrate(eng) == [2, 3, 4, 5, 6, 7, 8, 9, 10]
    with eng.begin() as c:
        assert c.exec_driver_sql("SELECT code, uses FROM coupons").fetchall() == [("A", 1)]
        c.exec_driver_sql("INSERT INTO coupons VALUES ('B', 'k', 'c1', 'o', 20, 30, 1, 0)")  # now allowed
        with pytest.raises(sa.exc.IntegrityError):  # the redemptions -> coupons foreign key still holds
            with c.begin_nested():
                c.exec_driver_sql("INSERT INTO redemptions VALUES ('r2', 'ZZ', 'k', 'c1', 'o', NULL, 1, "
                                  "'redeemed', 'key', 'i2', 1, NULL)")
    eng.dispose()
