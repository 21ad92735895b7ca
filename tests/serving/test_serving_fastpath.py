"""GET offer's fast path (an ASGI middleware in front of FastAPI's routing): the same answers as
the app's route, byte for byte, and every request it cannot answer with 200 answered by the app."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient
from serving_testlib import make_inputs

from offerwise.serving import ServeSettings, create_api_key, create_app
from offerwise.serving.fastpath import api_key, offer_customer


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
