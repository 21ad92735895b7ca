"""The operator console: its figures (``GET /v1/campaigns/{id}/stats``) against the campaign API
after real offers, redemptions and a rollback; admin-only access; the SRM test; and the page in
headless Chromium (no console error, every figure read from the DOM equals the API's).

Chromium is driven by the report tests' DevTools-pipe helper (``tests/report/report_cdp.py``).
Without a Chromium the browser test skips, except under CI (``CI=true``), where it fails.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pandas as pd
import pytest
from fastapi.testclient import TestClient
from serving_testlib import LiveServer, make_inputs, pg_fresh_db, serve_env

from offerwise.serving import ServeSettings, create_api_key, create_app
from offerwise.serving.stats import (
    SRM_ALPHA,
    campaign_stats,
    chi2_sf_1df,
    identification_info,
    srm_check,
)
from offerwise.serving.storage import load_plan, make_engine, migrate

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "report"))
from report_cdp import Browser, _errors, chromium_or_skip  # noqa: E402  (the report tests' driver)

CART = {"total": 40.0, "lines": [{"product_id": "p1", "category": "X", "quantity": 1, "unit_price": 40.0}]}
N_ASKED, N_REDEEM = 40, 6
#: The figures of GET /v1/campaigns/{id} (each must equal the stats endpoint's field of the same name).
CAMPAIGN_FIELDS = ("campaign_id", "active", "budget", "spent", "remaining", "redemptions",
                   "offers_issued", "exposures", "customers_in_plan", "created_at")


#: No rate limit in the way of the tests' requests.
FAST: dict[str, Any] = {"rate_per_s": 100_000.0, "rate_burst": 100_000}


def H(key: str, **extra: str) -> dict[str, str]:
    return {"X-API-Key": key, **extra}


def _inputs(folder: Path, summary: dict[str, Any] | None = None, campaign_id: str = "camp-1") -> tuple[Path, Path]:
    """The serving tests' plan (50 customers, every 5th in the holdout, c1 'none') in two segments."""
    plan, model = make_inputs(folder, campaign_id=campaign_id)
    df = pd.read_parquet(plan)
    df["segment"] = ["A" if i % 2 == 0 else "B" for i in range(len(df))]
    df.to_parquet(plan, index=False)
    if summary is not None:
        side = folder / "plan.summary.json"
        side.write_text(json.dumps({**json.loads(side.read_text()), **summary}))
    return plan, model


def _drive(client: httpx.Client | TestClient, keys: dict[str, str]) -> None:
    """Offers for c0..c39 and one unknown customer, 6 redemptions of 10.00, one rolled back; then
    wait for the write-behind records of the first asks."""
    codes = []
    for i in range(N_ASKED):
        body = client.get(f"/v1/customers/c{i}/offer", headers=H(keys["decide"])).json()
        if body["coupon"]:
            codes.append(body["coupon"]["code"])
    assert client.get("/v1/customers/walk-in/offer", headers=H(keys["decide"])).json()["group"] == "cold_start"
    for j, code in enumerate(codes[:N_REDEEM]):
        r = client.post(f"/v1/coupons/{code}/redeem", json=CART,
                        headers=H(keys["decide"], **{"Idempotency-Key": f"console-{j}"}))
        assert r.status_code == 200 and r.json()["discount"] == 10.0
    assert client.post(f"/v1/coupons/{codes[0]}/rollback", json={}, headers=H(keys["decide"])).status_code == 200
    deadline = time.monotonic() + 10
    while client.get("/v1/campaigns/camp-1", headers=H(keys["admin"])).json()["exposures"] < N_ASKED + 1:
        assert time.monotonic() < deadline, "write-behind records did not land"
        time.sleep(0.02)


def _check_stats(stats: dict[str, Any], camp: dict[str, Any]) -> None:
    """The stats equal the campaign API and add up; the exact figures of :func:`_drive`."""
    for k in set(camp) & set(stats):  # every figure both answers carry (CAMPAIGN_FIELDS at least)
        assert stats[k] == camp[k], k
    assert set(CAMPAIGN_FIELDS) <= set(stats)
    # c0..c39: 8 holdout (every 5th), c1 'none', 31 coupons of save10; 6 redeemed, 1 rolled back
    assert (stats["exposures"], stats["treatment_exposures"], stats["holdout_exposures"],
            stats["cold_start_exposures"]) == (41, 32, 8, 1)
    assert (stats["offers_issued"], stats["redemptions"], stats["rolled_back"], stats["spent"]) == (31, 5, 1, 50.0)
    assert stats["remaining"] == stats["budget"] - 50.0 and stats["customers_in_plan"] == 50
    assert stats["holdout_share"] == 8 / 40 and stats["explored"] == 0 and stats["exploration_share"] == 0.0
    offers = {o["offer_id"]: o for o in stats["by_offer"]}
    assert offers["save10"] == {"offer_id": "save10", "exposures": 31, "explored": 0, "coupons_issued": 31,
                                "redemptions": 5, "rolled_back": 1, "spent": 50.0}
    assert offers["none"]["exposures"] == 10 and offers["none"]["coupons_issued"] == 0
    for f, total in (("exposures", "exposures"), ("coupons_issued", "offers_issued"),
                     ("redemptions", "redemptions"), ("rolled_back", "rolled_back"), ("spent", "spent")):
        assert sum(o[f] for o in stats["by_offer"]) == stats[total], f
    segs = {s["segment"]: s for s in stats["by_segment"]}
    assert set(segs) == {"A", "B"}  # even / odd customers; the walk-in has no plan row
    assert segs["A"]["customers_in_plan"] == 25 and segs["A"]["holdout_customers"] == 5
    assert segs["A"]["exposures"] == 20 and segs["B"]["exposures"] == 20
    assert segs["B"]["offered"] == 16 - 1  # c1 has 'none'; odd holdouts: c5, c15, c25, c35
    assert sum(s["exposures"] for s in segs.values()) == stats["exposures"] - stats["cold_start_exposures"]
    assert sum(s["customers_in_plan"] for s in segs.values()) == stats["customers_in_plan"]
    assert sum(s["coupons_issued"] for s in segs.values()) == stats["offers_issued"]
    assert sum(s["redemptions"] for s in segs.values()) == stats["redemptions"]
    assert sum(s["spent"] for s in segs.values()) == stats["spent"]
    burn = stats["burn"]
    assert burn[0]["spent"] == 0 and burn[-1]["spent"] == stats["spent"]
    assert burn[-1]["redemptions"] == stats["redemptions"]
    times = [pd.Timestamp(p["at"]) for p in burn]
    assert times == sorted(times) and times[0] == pd.Timestamp(stats["created_at"])
    srm = stats["srm"]  # 8 of 40 plan exposures in the holdout, 10 of 50 assigned: no mismatch
    assert srm["status"] == "ok" and srm["expected_holdout_share"] == 0.2
    assert (srm["observed_holdout"], srm["observed_treatment"]) == (8, 32) and srm["p_value"] == 1.0


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/ow.db"
    return pg_fresh_db(request.getfixturevalue("postgres_url"), "ow_console")


def test_stats_equal_the_campaign_api_after_real_traffic(tmp_path: Path, db_url: str) -> None:
    plan, model = _inputs(tmp_path)
    with TestClient(create_app(ServeSettings(plan=plan, model_dir=model, db_url=db_url, **FAST))) as client:
        keys = {"admin": create_api_key(db_url, "admin", ["admin"]),
                "decide": create_api_key(db_url, "checkout", ["decide"])}
        _drive(client, keys)
        camp = client.get("/v1/campaigns/camp-1", headers=H(keys["admin"])).json()
        stats = client.get("/v1/campaigns/camp-1/stats", headers=H(keys["admin"])).json()
        _check_stats(stats, camp)
        ident = stats["identification"]
        assert not ident["available"] and ident["verdict"] is None
        assert "no 'claims'" in ident["unavailable_reason"]
        listed = client.get("/v1/campaigns", headers=H(keys["admin"])).json()["campaigns"]
        assert [c["campaign_id"] for c in listed] == ["camp-1"]
        assert {k: listed[0][k] for k in ("active", "budget", "spent", "created_at")} == \
            {k: camp[k] for k in ("active", "budget", "spent", "created_at")}
    # the burn in fine time buckets: +10.00 six times, then the rollback's -10.00
    engine = make_engine(db_url, pool_size=1)
    try:
        fine = campaign_stats(engine, "camp-1", buckets=1_000_000).burn
    finally:
        engine.dispose()
    assert [p.spent for p in fine[1:-1]] == [10.0, 20.0, 30.0, 40.0, 50.0, 60.0, 50.0]
    assert [p.redemptions for p in fine[1:-1]] == [1, 2, 3, 4, 5, 6, 5]


def test_console_and_stats_need_an_admin_key(tmp_path: Path) -> None:
    plan, model = _inputs(tmp_path)
    db = f"sqlite:///{tmp_path}/ow.db"
    with TestClient(create_app(ServeSettings(plan=plan, model_dir=model, db_url=db, **FAST))) as client:
        admin = create_api_key(db, "admin", ["admin"])
        decide = create_api_key(db, "checkout", ["decide"])
        for path in ("/console", "/v1/campaigns", "/v1/campaigns/camp-1/stats"):
            r = client.get(path)
            assert r.status_code == 401 and r.headers["content-type"] == "application/problem+json", path
            assert client.get(path, headers=H("ow_0000000000000000_nope")).status_code == 401, path
            r = client.get(path, headers=H(decide))
            assert r.status_code == 403 and r.json()["required_scope"] == "admin", path
            assert client.get(path, headers=H(admin)).status_code == 200, path
        assert client.get("/console", params={"key": decide}).status_code == 403
        assert client.get("/console", params={"key": "ow_0000000000000000_nope"}).status_code == 401
        assert "?key=" in client.get("/console").json()["detail"]
        # only the page takes the key from the URL; the JSON API wants the header
        assert client.get("/v1/campaigns/camp-1/stats", params={"key": admin}).status_code == 401
        r = client.get("/console", params={"key": admin})
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
        assert r.headers["cache-control"] == "no-store" and r.headers["referrer-policy"] == "no-referrer"
        csp = r.headers["content-security-policy"]
        assert "default-src 'none'" in csp and "connect-src 'self'" in csp and "unsafe" not in csp
        assert "http://" not in r.text.replace("http://www.w3.org/2000/svg", "")
        assert "https://" not in r.text
        r = client.get("/v1/campaigns/nope/stats", headers=H(admin))
        assert r.status_code == 404 and r.json()["type"].endswith("campaign-not-found")
        paths = client.get("/openapi.json").json()["paths"]
        assert {"/console", "/v1/campaigns", "/v1/campaigns/{campaign_id}/stats"} <= set(paths)


def test_srm_chi_square_matches_scipy() -> None:
    from scipy import stats as ss

    for x in (0.0, 0.5, 1.0, 3.84, 10.83, 25.0, 80.0):
        assert chi2_sf_1df(x) == pytest.approx(ss.chi2.sf(x, 1), rel=1e-9, abs=1e-300)
    m = srm_check(50, 950, 0.2)  # 5 % holdout where the plan assigned 20 %
    ref = ss.chisquare([50, 950], [200, 800])
    assert m.status == "mismatch" and m.p_value is not None and m.p_value < SRM_ALPHA
    assert m.chi2 == pytest.approx(ref.statistic) and m.p_value == pytest.approx(ref.pvalue, rel=1e-6)
    ok = srm_check(190, 810, 0.2)
    assert ok.status == "ok" and ok.p_value == pytest.approx(ss.chisquare([190, 810], [200, 800]).pvalue)
    assert srm_check(2, 10, 0.2).status == "insufficient_data"  # 2.4 expected in the holdout
    assert srm_check(0, 100, 0.0).status == "no_holdout" and srm_check(0, 0, None).p_value is None


def test_identification_comes_from_the_plan_summary_only() -> None:
    assert not identification_info(None).available
    assert "no 'claims'" in str(identification_info({"budget": 1}).unavailable_reason)
    no_report = identification_info({"claims": {"verdict": None, "verified": True}})
    assert not no_report.available and "identification report" in str(no_report.unavailable_reason)
    got = identification_info({"claims": {"verdict": "warning", "verified": False,
                                          "reasons": ["overlap is poor"], "experiment": "holdout 30 %"}})
    assert got.available and (got.verdict, got.verified, got.reasons) == ("warning", False, ["overlap is poor"])


# ------------------------------------------------------------------------------------------
# the page in headless Chromium
# ------------------------------------------------------------------------------------------

READ_DOM = """
JSON.stringify({
  state: document.body.dataset.state,
  status: document.getElementById("status").textContent,
  campaigns: Array.from(document.querySelectorAll("section.campaign")).map(sec => {
    const cells = root => Object.fromEntries(Array.from(root.querySelectorAll("[data-field]"))
      .map(e => [e.dataset.field, {value: JSON.parse(e.dataset.value), text: e.textContent}]));
    const chart = sec.querySelector("svg[data-chart=burn]");
    const box = chart.getBoundingClientRect();
    return {
      id: sec.dataset.campaign,
      figures: Object.assign({}, ...Array.from(sec.querySelectorAll(":scope > .grid"), cells)),
      offers: Object.fromEntries(Array.from(sec.querySelectorAll("tr[data-offer]"),
        tr => [tr.dataset.offer, cells(tr)])),
      segments: Object.fromEntries(Array.from(sec.querySelectorAll("tr[data-segment]"),
        tr => [JSON.parse(tr.dataset.segment), cells(tr)])),
      burn: {points: Number(chart.dataset.points), last: Number(chart.dataset.lastSpent),
             drawn: chart.querySelector("polyline[data-series=spent]").getAttribute("points")
               .trim().split(/\\s+/).length, w: box.width, h: box.height},
    };
  }),
})
"""

MONEY = {"budget", "spent", "remaining"}
SHARES = {"holdout_share", "plan_holdout_fraction", "exploration_share", "epsilon", "explore_plan",
          "srm_expected_share", "srm_plan_share"}


def _shown(field: str, v: Any) -> str:
    """The text the page shows for the API's value ``v`` of ``field``."""
    if v is None:
        return "n/a"
    if field in MONEY:
        return f"{v:,.2f}"
    if field in SHARES:
        return f"{100 * v:.1f} %"
    if isinstance(v, int) and not isinstance(v, bool):
        return f"{v:,}"
    return str(v)


@pytest.fixture(scope="module")
def chromium() -> str:
    return chromium_or_skip()


def _open(url: str, binary: str, timeout: float = 40.0) -> tuple[dict[str, Any], list[str], list[str]]:
    """Load ``url``, wait for the page's data-state to leave 'loading'; (DOM figures, console
    errors, requested URLs)."""
    with Browser(binary, timeout=timeout) as b:
        target = b.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        sid = b.send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        for domain in ("Page", "Runtime", "Log", "Network"):
            b.send(f"{domain}.enable", session=sid)
        b.send("Emulation.setDeviceMetricsOverride",
               {"width": 1400, "height": 900, "deviceScaleFactor": 1, "mobile": False}, session=sid)
        b.events.clear()
        b.send("Page.navigate", {"url": url}, session=sid)
        b.wait_event("Page.loadEventFired", session=sid)
        deadline = time.monotonic() + timeout
        while True:
            r = b.send("Runtime.evaluate", {"expression": READ_DOM, "returnByValue": True}, session=sid)
            assert "exceptionDetails" not in r, r["exceptionDetails"]
            dom = json.loads(r["result"]["value"])
            if dom["state"] != "loading" or _errors(b.events, sid) or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        requests = [e["params"]["request"]["url"] for e in b.events
                    if e["method"] == "Network.requestWillBeSent" and e.get("sessionId") == sid]
        return dom, _errors(b.events, sid), requests


@pytest.mark.browser
def test_console_renders_in_chromium_with_the_apis_figures(tmp_path: Path, chromium: str) -> None:
    db_url = f"sqlite:///{tmp_path}/ow.db"
    # an older campaign (inactive once camp-1 loads) whose plan summary carries the model's verdict
    claims = {"verdict": "warning", "verified": False, "reasons": ["overlap is poor for save10"],
              "experiment": "launch with a random holdout"}
    old_plan, old_model = _inputs(tmp_path / "old", {"holdout_fraction": 0.2, "claims": claims},
                                  campaign_id="camp-0")
    engine = make_engine(db_url, pool_size=1)
    migrate(engine)
    load_plan(engine, old_plan, old_model)
    engine.dispose()
    plan, model = _inputs(tmp_path)
    keys = {"admin": create_api_key(db_url, "admin", ["admin"]),
            "decide": create_api_key(db_url, "checkout", ["decide"])}
    srv = LiveServer(db_url, serve_env(plan, model)).start()
    try:
        with httpx.Client(base_url=srv.url, timeout=30) as client:
            _drive(client, keys)
            dom, errors, requests = _open(f"{srv.url}/console?key={keys['admin']}&refresh=0", chromium)
            api = {c: client.get(f"/v1/campaigns/{c}/stats", headers=H(keys["admin"])).json()
                   for c in ("camp-1", "camp-0")}
            camp = client.get("/v1/campaigns/camp-1", headers=H(keys["admin"])).json()
    finally:
        srv.stop()
    assert errors == [], errors
    assert dom["state"] == "ready", dom["status"]
    assert all(u.startswith(srv.url + "/") for u in requests), requests  # nothing outside the service
    assert [c["id"] for c in dom["campaigns"]] == ["camp-1", "camp-0"]  # the active one first
    _check_stats(api["camp-1"], camp)
    for shown in dom["campaigns"]:
        s = api[shown["id"]]
        figs = shown["figures"]
        expected = {k: v for k, v in s.items() if not isinstance(v, (dict, list, str, bool))}
        expected |= {"srm_" + k: v for k, v in s["srm"].items()
                     if k in ("observed_holdout", "observed_treatment", "expected_holdout", "chi2",
                              "p_value", "alpha")}
        expected |= {"srm_expected_share": s["srm"]["expected_holdout_share"],
                     "srm_plan_share": s["srm"]["expected_holdout_share"],
                     "srm_status": s["srm"]["status"],
                     "identification": s["identification"]["verdict"]}
        assert set(expected) <= set(figs), set(expected) - set(figs)
        for field, v in expected.items():
            assert figs[field]["value"] == v, (shown["id"], field)
            if field not in ("srm_chi2", "srm_p_value", "srm_expected_holdout", "srm_alpha",
                             "srm_status", "identification"):
                assert figs[field]["text"] == _shown(field, v), (shown["id"], field, figs[field])
        assert set(shown["offers"]) == {o["offer_id"] for o in s["by_offer"]}
        for o in s["by_offer"]:
            for field, v in o.items():
                if field != "offer_id":
                    assert shown["offers"][o["offer_id"]][field]["value"] == v
                    assert shown["offers"][o["offer_id"]][field]["text"] == _shown(field, v)
        assert set(shown["segments"]) == {g["segment"] for g in s["by_segment"]}
        for g in s["by_segment"]:
            for field, v in g.items():
                if field != "segment":
                    assert shown["segments"][g["segment"]][field]["value"] == v
                    assert shown["segments"][g["segment"]][field]["text"] == _shown(field, v)
        assert shown["burn"]["last"] == s["spent"]
        assert shown["burn"]["drawn"] == shown["burn"]["points"] >= 2
        assert shown["burn"]["w"] > 300 and shown["burn"]["h"] > 150
    one, zero = (c["figures"] for c in dom["campaigns"])
    assert one["identification"]["value"] is None and one["identification"]["text"].startswith("not available: ")
    assert zero["identification"]["value"] == "warning" and zero["plan_holdout_fraction"]["text"] == "20.0 %"
    assert one["spent"]["text"] == "50.00" and one["srm_status"]["value"] == "ok"
