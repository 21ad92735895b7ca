"""Benchmark: offerwise's meta-learners vs causalml's on causalml's own uplift generator.

Data: ``causalml.dataset.make_uplift_classification`` (binary conversion, one treatment vs
control), split 50/50 with one seed. Every learner is fitted on the training half and ranks the
test half; all AUUCs come from the same function, ``offerwise.evaluation.uplift.uplift_metrics``
(normalized AUUC and Qini: 0 = random, 1 = the realized-outcome oracle). causalml's own
``auuc_score`` is printed alongside as a cross-check. Base models are LightGBM with the same
settings for both libraries (num_leaves, learning rate, rounds, min_child_samples, 2 threads).
Each configuration is repeated over ``--repeats`` data seeds (default 20); the table shows medians
and means. The last lines pair the default with the causalml learner of the best mean, seed by seed
(same data, same split): wins, mean difference and its standard error, on both AUUC measures,
because the per-seed spread (about 0.01) is far larger than the gaps between learners. offerwise's default ``ptb`` learner averages ``DEFAULT_BAGS`` seed bags of its
shared-base model (as ``offerwise train`` does); the one-bag model is shown next to it.

    .venv/bin/python -m pip install causalml     # the 'bench' extra
    .venv/bin/python benchmarks/bench_causalml.py [--quick] [--json]

``--protocol multiarm`` (issue #13) measures what a user gets: causalml's
``make_uplift_classification`` with its **default arguments** (3 treatments + control, 1,000 rows
per group; ``--samples`` changes the rows per group), a seeded 70/30 split, the training rows
written as a shop in offerwise's data contract (customers with the generator's features as
attributes, three percent-off offers, exposures with ``converted``), then ``offerwise train`` and
``offerwise score`` **through the CLI with default settings**. causalml's ``BaseTClassifier`` and
``BaseXClassifier`` with LightGBM defaults fit the same rows. Every learner ranks the test rows of
each treatment vs control by its predicted conversion uplift; the score is causalml's
``auuc_score(normalize=True)`` averaged over the three treatments. Seconds are fit + predict
(offerwise: both CLI processes, including start-up and writing the shop).

    .venv/bin/python benchmarks/bench_causalml.py --protocol multiarm [--repeats 10] [--json]
        [--learners x:10 dr:10 t:28] [--cli-learners x dr]

``--cli-learners x dr`` adds rows for the CLI with ``offerwise train --learner L`` (every other
setting as by default, the time of both processes), each with its count of seeds at or above
the best causalml learner. ``--learners`` adds rows for offerwise's response model with other learners and leaf sizes,
fitted in-process on the same training rows (what the product could rank with another default;
the CLI row is what it ranks now), each with its count of seeds at or above the best causalml
learner.

The same protocol against an older offerwise (the CLI subprocesses import it from PYTHONPATH):

    git worktree add /tmp/ow-old f97733c && PYTHONPATH=/tmp/ow-old/src \
        .venv/bin/python benchmarks/bench_causalml.py --protocol multiarm
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
import warnings

import numpy as np

from offerwise.errors import require
from offerwise.evaluation.uplift import uplift_metrics
from offerwise.models.defaults import DEFAULT_BAGS, DEFAULT_LEARNER
from offerwise.models.metalearners import DRLearner, SharedBaseTLearner, TLearner, XLearner
from offerwise.models.response import LEARNER_NAMES


def _lgb_kwargs(args: argparse.Namespace, seed: int) -> dict:
    return {"n_estimators": args.trees, "learning_rate": args.lr, "num_leaves": args.leaves,
            "min_child_samples": args.min_child, "n_jobs": 2, "random_state": seed, "verbose": -1}


def _cm(model, X, t, y, **kw):  # noqa: ANN001, ANN202 - causalml's fit returns None
    model.fit(X, t, y, **kw)
    return model


def run_once(args: argparse.Namespace, seed: int) -> list[dict]:
    dataset = require("causalml.dataset", "bench")
    meta = require("causalml.inference.meta", "bench")
    cm_metrics = require("causalml.metrics", "bench")
    import lightgbm as lgb
    import pandas as pd

    df, x_names = dataset.make_uplift_classification(
        n_samples=args.samples, treatment_name=["control", "treatment1"],
        n_classification_features=20, n_classification_informative=5,
        n_uplift_increase_dict={"treatment1": 4}, delta_uplift_increase_dict={"treatment1": 0.05},
        random_seed=seed,
    )
    X = df[x_names].to_numpy(dtype=np.float64)
    t = (df["treatment_group_key"] == "treatment1").to_numpy().astype(int)
    y = df["conversion"].to_numpy(dtype=np.float64)
    rng = np.random.default_rng(seed)
    test = rng.random(len(y)) < 0.5
    tr = ~test
    kw = _lgb_kwargs(args, seed)
    ow_kw = {k: kw[k] for k in ("n_estimators", "learning_rate", "num_leaves", "min_child_samples",
                               "n_jobs", "random_state")}
    # randomized design: the known propensity (treated share of the training half)
    p_tr = np.full(int(tr.sum()), t[tr].mean())
    p_te = np.full(int(test.sum()), t[tr].mean())

    learners = {
        "offerwise T-learner": lambda: TLearner(outcome="binary", **ow_kw).fit(X[tr], t[tr], y[tr]),
        "offerwise X-learner": lambda: XLearner(outcome="binary", **ow_kw).fit(X[tr], t[tr], y[tr]),
        "offerwise DR-learner": lambda: DRLearner(outcome="binary", **ow_kw).fit(X[tr], t[tr], y[tr]),
        "offerwise TB-learner": lambda: SharedBaseTLearner(outcome="binary", **ow_kw).fit(
            X[tr], t[tr], y[tr]),
        # the default 'ptb' pools one conversion model over all offers; with a single offer it is
        # the shared-base T-learner (residuals: 7 leaves, a third of the base's rounds), averaged
        # over DEFAULT_BAGS seed bags as in the pipeline; the one-bag model is shown next to it
        **({"offerwise PTB-learner, 1 bag": lambda: SharedBaseTLearner(
            outcome="binary", residual_estimators=max(20, args.trees // 3), **ow_kw).fit(
            X[tr], t[tr], y[tr])} if DEFAULT_BAGS > 1 else {}),
        "offerwise PTB-learner": lambda: SharedBaseTLearner(
            outcome="binary", residual_estimators=max(20, args.trees // 3), n_bags=DEFAULT_BAGS,
            **ow_kw).fit(X[tr], t[tr], y[tr]),
        "causalml BaseTClassifier": lambda: _cm(meta.BaseTClassifier(
            learner=lgb.LGBMClassifier(**kw)), X[tr], t[tr], y[tr]),
        "causalml BaseXClassifier": lambda: _cm(meta.BaseXClassifier(
            outcome_learner=lgb.LGBMClassifier(**kw), effect_learner=lgb.LGBMRegressor(**kw)),
            X[tr], t[tr], y[tr], p=p_tr),
        "causalml BaseRClassifier": lambda: _cm(meta.BaseRClassifier(
            outcome_learner=lgb.LGBMClassifier(**kw), effect_learner=lgb.LGBMRegressor(**kw),
            random_state=seed), X[tr], t[tr], y[tr], p=p_tr),
        "causalml BaseDRLearner": lambda: _cm(meta.BaseDRLearner(
            learner=lgb.LGBMRegressor(**kw)), X[tr], t[tr], y[tr], p=p_tr, seed=seed),
    }
    rows = []
    for name, fit in learners.items():
        t0 = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model = fit()
            if name.startswith("causalml"):
                pred = np.asarray(model.predict(X[test]) if "BaseX" not in name
                                  else model.predict(X[test], p=p_te))
                pred = pred.reshape(len(pred), -1)[:, 0]
            else:
                pred = model.predict(X[test])
        secs = time.perf_counter() - t0
        m = uplift_metrics(y[test], t[test], pred, keep_curves=False)
        cm = float(cm_metrics.auuc_score(
            pd.DataFrame({"y": y[test], "w": t[test], "model": pred}), outcome_col="y",
            treatment_col="w", normalize=True)["model"])
        rows.append({"learner": name, "auuc_normalized": m.auuc_normalized,
                     "qini_normalized": m.qini_normalized, "causalml_auuc_score": cm, "seconds": secs})
    return rows


ARMS = ("treatment1", "treatment2", "treatment3")


def mean_auuc(y: np.ndarray, g: np.ndarray, pred: np.ndarray) -> float:
    """causalml's normalized ``auuc_score`` of ``pred`` (n, 3) per treatment of :data:`ARMS`
    against control, on the rows with that treatment or control, averaged over the three
    (``y``: conversion (n,), ``g``: the generator's ``treatment_group_key`` (n,))."""
    import pandas as pd

    metrics = require("causalml.metrics", "bench")
    out = []
    for j, a in enumerate(ARMS):
        m = (g == a) | (g == "control")
        frame = pd.DataFrame({"y": y[m], "w": (g[m] == a).astype(int), "m": pred[m, j]})
        out.append(float(metrics.auuc_score(frame, outcome_col="y", treatment_col="w",
                                            normalize=True)["m"]))
    return float(np.mean(out))


def _write_shop(df, x_names: list[str], train: np.ndarray, d) -> None:  # noqa: ANN001
    """The generator's training rows as a shop in the data contract (all rows are customers)."""
    import pandas as pd

    d.mkdir(parents=True, exist_ok=True)
    ids = np.array([f"c{i}" for i in range(len(df))])
    pd.DataFrame({"customer_id": ids, **{c: df[c].to_numpy() for c in x_names}}).to_parquet(
        d / "customers.parquet", index=False)
    pd.DataFrame({"offer_id": list(ARMS), "kind": ["percent_off"] * 3,
                  "value": [0.05, 0.10, 0.15]}).to_parquet(d / "offers.parquet", index=False)
    g = df["treatment_group_key"].to_numpy()[train]
    y = df["conversion"].to_numpy(dtype=np.float64)[train]
    pd.DataFrame({"customer_id": ids[train], "offer_id": np.where(g == "control", "none", g),
                  "ts": pd.Timestamp("2024-01-01"), "converted": y, "revenue": y,
                  "discount_cost": 0.0, "gross_profit": y}).to_parquet(d / "exposures.parquet",
                                                                        index=False)


def multiarm_split(seed: int, samples: int = 1000):  # noqa: ANN201 - (DataFrame, list, ndarray)
    """causalml's ``make_uplift_classification`` (``samples`` rows per group, its other defaults)
    with data seed ``seed``, its feature names and the seeded 30 % test mask (n,) of the
    multiarm protocol."""
    dataset = require("causalml.dataset", "bench")
    df, x_names = dataset.make_uplift_classification(n_samples=samples, random_seed=seed)
    return df, x_names, np.random.default_rng(seed).random(len(df)) < 0.3


def inprocess_exposures(g: np.ndarray, y: np.ndarray):  # noqa: ANN201 - (DataFrame, dict)
    """The training rows as offerwise's exposures (``g``: the generator's treatment keys,
    ``y``: conversion; revenue = gross profit = conversion, no discount cost) and the response
    model's keyword arguments with the product's other defaults (hurdle profit, bags)."""
    import pandas as pd

    offer = np.where(g == "control", "none", g)
    ex = pd.DataFrame({"customer_id": [f"c{i}" for i in range(len(g))], "offer_id": offer,
                       "converted": y, "revenue": y, "discount_cost": 0.0, "gross_profit": y})
    kwargs = {"profit": "hurdle", "min_treated": 50, "n_bags": DEFAULT_BAGS,
              "propensity_clip": (0.01, 0.99), "n_jobs": 2, "random_state": 42}
    return ex, kwargs


def uplift_of(model, X_te: np.ndarray) -> np.ndarray:  # noqa: ANN001 - a fitted response model
    """Predicted conversion uplift (n_test, 3) of ``model`` for the offers :data:`ARMS`."""
    sc = model.predict(X_te)
    return sc.incremental_conversion[:, [sc.offers.index(a) for a in ARMS]]


def _in_process(spec: str, X_tr: np.ndarray, X_te: np.ndarray, g: np.ndarray,
                y: np.ndarray) -> np.ndarray:
    """Predicted conversion uplift (n_test, 3) of offerwise's response model with learner and
    min rows per leaf ``spec`` (``x:10``), fitted in-process on the training rows with the
    product's other defaults (hurdle profit, bags, 15 leaves, 150 rounds)."""
    from offerwise.workflows.crossfit import Candidate, fit_model

    learner, mcs = spec.split(":")
    ex, kwargs = inprocess_exposures(g, y)
    return uplift_of(fit_model(Candidate(learner, int(mcs)), X_tr, ex, list(ARMS), kwargs, None),
                     X_te)


def causalml_multiarm(X_tr: np.ndarray, g_tr: np.ndarray, y_tr: np.ndarray, X_te: np.ndarray,
                      seed: int) -> dict[str, tuple[np.ndarray, float]]:
    """causalml's T and X learners with LightGBM defaults fitted on the training rows: name ->
    (predicted uplift (n_test, 3) for :data:`ARMS`, fit + predict seconds)."""
    import lightgbm as lgb

    meta = require("causalml.inference.meta", "bench")
    kw = {"n_jobs": 2, "verbose": -1, "random_state": seed}
    out = {}
    for name, make in (
        ("causalml BaseTClassifier", lambda: meta.BaseTClassifier(lgb.LGBMClassifier(**kw),
                                                                  control_name="control")),
        ("causalml BaseXClassifier", lambda: meta.BaseXClassifier(
            lgb.LGBMClassifier(**kw), lgb.LGBMRegressor(**kw), control_name="control")),
    ):
        t0 = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            m = make()
            m.fit(X_tr, g_tr, y_tr)
            pred = np.asarray(m.predict(X_te, verbose=False) if "X" in name else m.predict(X_te))
        out[name] = (pred.reshape(len(X_te), -1), time.perf_counter() - t0)
    return out


def run_multiarm(args: argparse.Namespace, seed: int, tmp) -> list[dict]:  # noqa: ANN001
    import subprocess
    from pathlib import Path

    import pandas as pd

    df, x_names, test = multiarm_split(seed, args.samples)
    g = df["treatment_group_key"].to_numpy()
    y = df["conversion"].to_numpy(dtype=np.float64)

    rows = []
    ow = Path(sys.executable).parent / "offerwise"
    d = Path(tmp) / f"shop-{seed}"
    # the CLI with its defaults, then (``--cli-learners``) with the learner pinned
    for learner in (None, *args.cli_learners):
        t0 = time.perf_counter()
        m = d / f"model-{learner or 'default'}"
        if learner is None:
            _write_shop(df, x_names, ~test, d)  # timed once, with the defaults' row
        pin = ["--learner", learner] if learner else []
        for cmd in (["train", "--data", str(d), "--out", str(m), *pin],
                    ["score", "--model", str(m), "--data", str(d), "--out", str(m / "s.parquet")]):
            r = subprocess.run([str(ow), *cmd], capture_output=True, text=True)
            if r.returncode != 0:
                raise SystemExit(f"offerwise {cmd[0]} failed:\n{r.stderr[-3000:]}")
        sc = pd.read_parquet(m / "s.parquet").pivot(index="customer_id", columns="offer_id",
                                                     values="incremental_conversion")
        pred = sc.reindex(np.array([f"c{i}" for i in range(len(df))])[test])[list(ARMS)].to_numpy()
        card = json.loads((m / "model_card.json").read_text())
        chosen = card.get("tuning", {}).get("chosen")  # older versions (before --tune) have none
        rows.append({"learner": f"offerwise CLI --learner {learner}" if learner
                     else "offerwise CLI defaults",
                     "auuc": mean_auuc(y[test], g[test], pred),
                     "seconds": time.perf_counter() - t0,
                     "chosen": f"{chosen['learner']} min_leaf={chosen['min_child_samples']}"
                     if chosen else card.get("learner", "?")})
    X_tr, X_te = df.loc[~test, x_names].to_numpy(), df.loc[test, x_names].to_numpy()
    for spec in args.learners:  # other offerwise learners on the same rows, fitted in-process
        t0 = time.perf_counter()
        pred = _in_process(spec, X_tr, X_te, g[~test], y[~test])
        rows.append({"learner": f"offerwise {spec} (in-process)",
                     "auuc": mean_auuc(y[test], g[test], pred),
                     "seconds": time.perf_counter() - t0, "chosen": ""})
    for name, (pred, secs) in causalml_multiarm(X_tr, g[~test], y[~test], X_te, seed).items():
        rows.append({"learner": name, "auuc": mean_auuc(y[test], g[test], pred),
                     "seconds": secs, "chosen": ""})
    return rows


def main_multiarm(args: argparse.Namespace) -> int:
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        runs = [run_multiarm(args, args.seed + r, tmp) for r in range(args.repeats)]
    names = [r["learner"] for r in runs[0]]
    per = {n: [run[i]["auuc"] for run in runs] for i, n in enumerate(names)}
    secs = {n: [run[i]["seconds"] for run in runs] for i, n in enumerate(names)}
    cm = [n for n in names if n.startswith("causalml")]
    best = max(cm, key=lambda n: statistics.fmean(per[n]))
    ow = names[0]
    wins = sum(a >= b for a, b in zip(per[ow], per[best], strict=True))
    out = {"config": {"samples_per_group": args.samples, "repeats": args.repeats, "seed": args.seed,
                      "split": "70/30"},
           "rows": [{"learner": n, "mean_auuc": statistics.fmean(per[n]),
                     "median_auuc": statistics.median(per[n]), "per_seed_auuc": per[n],
                     "median_seconds": statistics.median(secs[n])} for n in names],
           "chosen_per_seed": [run[0]["chosen"] for run in runs],
           "best_causalml": best, "wins_vs_best": wins,
           "time_ratio_vs_x": statistics.median(secs[ow]) / statistics.median(secs["causalml BaseXClassifier"])}
    if args.json:
        print(json.dumps(out, indent=2))
        return 0
    from rich.console import Console
    from rich.table import Table

    tb = Table(title=f"bench_causalml --protocol multiarm: make_uplift_classification defaults, "
                     f"{args.samples} rows/group, 70/30 split, {args.repeats} data seeds; causalml "
                     "auuc_score (normalized), mean over 3 treatments")
    for c in ("learner", "AUUC mean", "AUUC median", "per seed", "fit+predict s (median)"):
        tb.add_column(c, justify="left" if c in ("learner", "per seed") else "right")
    for r in out["rows"]:
        tb.add_row(r["learner"], f"{r['mean_auuc']:.3f}", f"{r['median_auuc']:.3f}",
                   " ".join(f"{v:.2f}" for v in r["per_seed_auuc"]), f"{r['median_seconds']:.1f}")
    Console(width=200).print(tb)
    print(f"offerwise CLI defaults >= best causalml by mean ({best}) on {wins}/{args.repeats} seeds; "
          f"mean {out['rows'][0]['mean_auuc']:.3f} vs {statistics.fmean(per[best]):.3f}; "
          f"time ratio vs X-learner {out['time_ratio_vs_x']:.1f}x")
    for n in names[1:]:
        if n.startswith("offerwise"):
            w = sum(a >= b for a, b in zip(per[n], per[best], strict=True))
            ratio = statistics.median(secs[n]) / statistics.median(secs["causalml BaseXClassifier"])
            print(f"{n} >= {best} on {w}/{args.repeats} seeds; mean {statistics.fmean(per[n]):.3f}"
                  + (f"; time ratio vs X-learner {ratio:.1f}x" if " CLI " in n else ""))
    print("chosen by --tune fast, per seed: " + ", ".join(out["chosen_per_seed"]))
    return 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--samples", type=int, default=20_000, help="rows per arm")
    ap.add_argument("--repeats", type=int, default=20)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--trees", type=int, default=150)
    ap.add_argument("--lr", type=float, default=0.05)
    ap.add_argument("--leaves", type=int, default=15)
    ap.add_argument("--min-child", type=int, default=50)
    ap.add_argument("--quick", action="store_true", help="3000 rows per arm, 1 repeat")
    ap.add_argument("--protocol", choices=["binary", "multiarm"], default="binary",
                    help="binary: library learners, one treatment; multiarm: CLI defaults, 3 "
                         "treatments, causalml's default generator (issue #13)")
    ap.add_argument("--learners", nargs="*", default=[], metavar="LEARNER:MIN_LEAF",
                    help="multiarm: also offerwise's response model with these learners and min "
                         "rows per leaf (e.g. x:10 dr:10 t:28), fitted in-process on the same rows")
    ap.add_argument("--cli-learners", nargs="*", default=[], choices=LEARNER_NAMES,
                    help="multiarm: also run the CLI with `train --learner L` (the rest as by "
                         "default), what a user gets by pinning another learner")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    if args.protocol == "multiarm":
        if "--samples" not in (argv or sys.argv):
            args.samples = 1000  # make_uplift_classification's default
        if "--repeats" not in (argv or sys.argv):
            args.repeats = 10
        return main_multiarm(args)
    if args.quick:
        args.samples, args.repeats = 3000, 1
    runs = [run_once(args, args.seed + r) for r in range(args.repeats)]
    names = [r["learner"] for r in runs[0]]
    metrics = ("auuc_normalized", "qini_normalized", "causalml_auuc_score", "seconds")
    table = []
    for i, name in enumerate(names):
        per_seed = {k: [run[i][k] for run in runs] for k in metrics}
        table.append({"learner": name, **{k: statistics.median(v) for k, v in per_seed.items()},
                      "mean_auuc": statistics.fmean(per_seed["auuc_normalized"]),
                      "mean_causalml_auuc_score": statistics.fmean(per_seed["causalml_auuc_score"]),
                      "per_seed_auuc": per_seed["auuc_normalized"],
                      "per_seed_causalml_auuc_score": per_seed["causalml_auuc_score"]})
    default = {"t": "offerwise T-learner", "x": "offerwise X-learner", "dr": "offerwise DR-learner",
               "tb": "offerwise TB-learner", "ptb": "offerwise PTB-learner"}[DEFAULT_LEARNER]
    d = next(r for r in table if r["learner"] == default)
    cm_rows = [r for r in table if r["learner"].startswith("causalml")]

    def paired(metric: str) -> dict:
        """The default vs the causalml learner with the best mean ``metric``, seed by seed (each
        seed is an independent dataset and split): wins, mean difference and its standard error."""
        best = max(cm_rows, key=lambda r: statistics.fmean(r[f"per_seed_{metric}"]))
        diffs = [a - b for a, b in zip(d[f"per_seed_{metric}"], best[f"per_seed_{metric}"], strict=True)]
        se = statistics.stdev(diffs) / len(diffs) ** 0.5 if len(diffs) > 1 else float("nan")
        return {"best_causalml": best["learner"], "wins": sum(x >= 0 for x in diffs), "n": len(diffs),
                "mean_diff": statistics.fmean(diffs), "se": se,
                "median_diff_of_medians": statistics.median(d[f"per_seed_{metric}"])
                - statistics.median(best[f"per_seed_{metric}"])}

    out = {"config": {"samples_per_arm": args.samples, "repeats": args.repeats, "seed": args.seed,
                      "trees": args.trees, "learning_rate": args.lr, "num_leaves": args.leaves,
                      "min_child_samples": args.min_child},
           "rows": table, "default": default,
           "default_vs_best_causalml": paired("auuc"),
           "default_vs_best_causalml_by_causalml_auuc_score": paired("causalml_auuc_score")}
    if args.json:
        print(json.dumps(out, indent=2))
        return 0
    from rich.console import Console
    from rich.table import Table

    tb = Table(title=f"bench_causalml: make_uplift_classification, {args.samples} rows/arm, 50/50 split, "
                     f"{args.repeats} data seeds")
    for c in ("learner", "AUUC median", "AUUC mean", "Qini median", "causalml auuc_score mean",
              "fit+predict s"):
        tb.add_column(c, justify="left" if c == "learner" else "right")
    for r in table:
        tb.add_row(r["learner"] + (" (default)" if r["learner"] == default else ""),
                   f"{r['auuc_normalized']:.4f}", f"{r['mean_auuc']:.4f}", f"{r['qini_normalized']:.4f}",
                   f"{r['mean_causalml_auuc_score']:.4f}", f"{r['seconds']:.1f}")
    Console(width=160).print(tb)
    for label, key in (("normalized AUUC", "default_vs_best_causalml"),
                       ("causalml auuc_score", "default_vs_best_causalml_by_causalml_auuc_score")):
        p = out[key]
        print(f"{label}: default ({default}) vs best causalml by mean ({p['best_causalml']}): mean paired "
              f"difference {p['mean_diff']:+.4f} (standard error {p['se']:.4f}), default >= on "
              f"{p['wins']}/{p['n']} seeds; difference of medians {p['median_diff_of_medians']:+.4f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
