"""GET offer's fast path (an ASGI middleware in front of FastAPI's routing): the same answers as
the app's route, byte for byte, and every request it cannot answer with 200 answered by the app."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient
from serving_testlib import make_inputs

from offerwise.serving import ServeSettings, create_api_key, create_app
from offerwise.serving.fastpath import api_key, offer_customer, redeem_code


def test_offer_paths_and_keys_are_parsed_as_the_route_does() -> None:
    assert offer_customer("/v1/customers/c2/offer") == "c2"
    assert offer_customer("/v1/customers/a b é/offer") == "a b é"  # the decoded path
    assert offer_customer("/v1/customers/" + "x" * 128 + "/offer") == "x" * 128
    for path in ("/v1/customers//offer", "/v1/customers/a/b/offer", "/v1/customers/c2",
                 "/v1/customers/" + "x" * 129 + "/offer", "/v1/coupons/X/offer", "/health"):
        assert offer_customer(path) is None, path
    assert api_key([(b"host", b"x"), (b"x-api-key", b"k1"), (b"x-api-key", b"k2")]) == "k1"
    assert api_key([(b"X-API-Key", b"k1")]) == "k1"
    assert api_key([(b"x-api-key", b"")]) is None and api_key([]) is None
    assert redeem_code("/v1/coupons/AB-12/redeem") == "AB-12"
    assert redeem_code("/v1/coupons/" + "x" * 64 + "/redeem") == "x" * 64
    for path in ("/v1/coupons//redeem", "/v1/coupons/a/b/redeem", "/v1/coupons/AB/validate",
                 "/v1/coupons/" + "x" * 65 + "/redeem", "/v1/customers/AB/redeem"):
        assert redeem_code(path) is None, path


def test_fast_path_answers_as_the_route_does(tmp_path: Path) -> None:
    """The same customers asked with X-API-Key (fast path) and with the same key as a bearer
    token (the app's route): identical status, media type and bytes; errors from the app."""
    plan, model = make_inputs(tmp_path)
    db = f"sqlite:///{tmp_path}/ow.db"
    with TestClient(create_app(ServeSettings(plan=plan, model_dir=model, db_url=db))) as client:
        key = create_api_key(db, "checkout", ["decide"])
        admin = create_api_key(db, "admin", ["admin"])
        for cid in ("c2", "c0", "c1", "newcomer-1", "c3"):  # offer, holdout, none, cold start
            fast = client.get(f"/v1/customers/{cid}/offer", headers={"X-API-Key": key})
            route = client.get(f"/v1/customers/{cid}/offer",
                               headers={"Authorization": f"Bearer {key}"})
            assert fast.status_code == route.status_code == 200
            assert fast.headers["content-type"] == route.headers["content-type"] == "application/json"
            assert fast.content == route.content and fast.headers["content-length"] == str(
                len(fast.content))
        # what the fast path cannot answer, the app answers with its problem documents
        r = client.get("/v1/customers/c2/offer", headers={"X-API-Key": "ow_0123456789abcdef_no"})
        assert r.status_code == 401 and r.json()["type"].endswith("invalid-api-key")
        r = client.get("/v1/campaigns/camp-1", headers={"X-API-Key": key})  # not GET offer
        assert r.status_code == 403 and r.json()["type"].endswith("insufficient-scope")
        assert client.get("/v1/customers/c2/offer", headers={"X-API-Key": admin}).status_code == 200
        r = client.get("/v1/customers/" + "x" * 129 + "/offer", headers={"X-API-Key": key})
        assert r.status_code == 422
        r = client.post("/v1/customers/c2/offer", headers={"X-API-Key": key})
        assert r.status_code == 405
        slow = create_api_key(db, "slow", ["decide"], rate_per_s=0.01, burst=1)
        assert client.get("/v1/customers/c2/offer", headers={"X-API-Key": slow}).status_code == 200
        r = client.get("/v1/customers/c2/offer", headers={"X-API-Key": slow})
        assert r.status_code == 429 and int(r.headers["retry-after"]) >= 1


def test_a_request_the_fast_path_hands_on_takes_one_rate_token(tmp_path: Path) -> None:
    """No active campaign: the fast path accepts the key (one token), the service cannot answer,
    and the app's route answers 503 without checking the key again: a key with a burst of 2
    gets two 503s before its 429."""
    db = f"sqlite:///{tmp_path}/ow.db"
    with TestClient(create_app(ServeSettings(db_url=db))) as client:
        key = create_api_key(db, "pos", ["decide"], rate_per_s=0.01, burst=2)
        got = [client.get("/v1/customers/c2/offer", headers={"X-API-Key": key}) for _ in range(3)]
        assert [r.status_code for r in got] == [503, 503, 429]
        assert got[0].json()["type"].endswith("no-active-campaign")


def test_redeem_fast_path_answers_as_the_route_does(tmp_path: Path) -> None:
    """Redemptions with X-API-Key (fast path) and with a bearer key (the route): the same
    statuses, media types, replay header and body fields; what the fast path cannot answer
    (a bad body, an unknown code, a reused key, no Idempotency-Key) the app answers."""
    plan, model = make_inputs(tmp_path, holdout_every=0)
    db = f"sqlite:///{tmp_path}/ow.db"
    cart = {"total": 80.0, "lines": [{"product_id": "p", "category": "X", "quantity": 1, "unit_price": 80.0}]}
    with TestClient(create_app(ServeSettings(plan=plan, model_dir=model, db_url=db))) as client:
        key = create_api_key(db, "pos", ["decide"])
        codes = [client.get(f"/v1/customers/c{i}/offer", headers={"X-API-Key": key}).json()["coupon"]["code"]
                 for i in (2, 3)]

        def redeem(code: str, idem: str, bearer: bool, body: object = cart, **extra: str):
            auth = {"Authorization": f"Bearer {key}"} if bearer else {"X-API-Key": key}
            return client.post(f"/v1/coupons/{code}/redeem", json=body,
                               headers={**auth, "Idempotency-Key": idem, **extra})

        fast, route = redeem(codes[0], "f-1", False), redeem(codes[1], "r-1", True)
        assert fast.status_code == route.status_code == 200
        assert fast.headers["content-type"] == route.headers["content-type"] == "application/json"
        f, r = fast.json(), route.json()
        assert f.keys() == r.keys() and f["code"] == codes[0] and r["code"] == codes[1]
        assert {k: f[k] for k in ("campaign_id", "offer_id", "discount")} == {
            k: r[k] for k in ("campaign_id", "offer_id", "discount")}
        assert r["remaining_budget"] == f["remaining_budget"] - f["discount"]
        # a replay: the stored answer, flagged, on both paths
        again_fast, again_route = redeem(codes[0], "f-1", False), redeem(codes[0], "f-1", True)
        assert again_fast.content == again_route.content == fast.content
        assert again_fast.headers["idempotent-replayed"] == again_route.headers["idempotent-replayed"] == "true"
        assert "idempotent-replayed" not in fast.headers
        # a refusal is a 409 problem document on both paths (the coupon is used up)
        used_fast, used_route = redeem(codes[0], "f-2", False), redeem(codes[0], "r-2", True)
        assert used_fast.status_code == used_route.status_code == 409
        assert used_fast.headers["content-type"] == used_route.headers["content-type"] == "application/problem+json"
        assert used_fast.json()["reason"] == used_route.json()["reason"] == "already_redeemed"
        assert used_fast.json()["instance"] == used_route.json()["instance"] == f"/v1/coupons/{codes[0]}/redeem"
        # handed to the app: unknown code, reused key with another body, bad body, no key header
        r = redeem("NO-SUCH-CODE", "f-3", False)
        assert r.status_code == 404 and r.json()["type"].endswith("coupon-not-found")
        r = redeem(codes[1], "r-1", False, body={**cart, "order_id": "o-9"})
        assert r.status_code == 409 and r.json()["type"].endswith("idempotency-key-reused")
        r = redeem(codes[1], "f-4", False, body={"total": -1})
        assert r.status_code == 422
        r = client.post(f"/v1/coupons/{codes[1]}/redeem", json=cart, headers={"X-API-Key": key})
        assert r.status_code == 422  # Idempotency-Key is required
        r = redeem(codes[1], "f-5", False, body=None, **{"content-type": "text/plain"})
        assert r.status_code == 422


def test_read_body_joins_chunks_and_hands_them_on() -> None:
    import asyncio

    from offerwise.serving.fastpath import read_body

    msgs = [{"type": "http.request", "body": b'{"to', "more_body": True},
            {"type": "http.request", "body": b'tal": 5}', "more_body": False},
            {"type": "http.disconnect"}]

    async def receive() -> dict:
        return msgs.pop(0)

    async def go() -> tuple[bytes, list[dict]]:
        body, again = await read_body(receive)
        return body, [await again(), await again()]

    body, seen = asyncio.run(go())
    assert body == b'{"total": 5}'
    assert seen == [{"type": "http.request", "body": b'{"total": 5}', "more_body": False},
                    {"type": "http.disconnect"}]
