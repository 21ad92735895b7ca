"""Save and load a model directory.

Layout (written atomically with :func:`offerwise._io.atomic_dir`)::

    MODEL_DIR/
      model.json          format/version, data fingerprint, feature spec, offers, learner metadata
      offers.parquet      copy of the offer menu (data contract format)
      model_card.json     holdout metrics, propensity clipping, skipped offers, warnings
      model_card.md       the same card, readable
      oof.parquet         every exposure's out-of-fold expected net profit per arm (row position,
                          customer id, fold, ``q:<arm>``; older models: holdout.parquet)
      boosters/NNN.txt    LightGBM boosters as text (booster.save_model format)
      audit/              the same layout: the model of cross-fitting fold 0 (fitted without
                          that fold's customers), which checks the plans on them

No pickle is used: boosters are LightGBM text, everything else JSON/Parquet. :func:`load_model`
checks the format version and that the feature list matches the boosters.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from offerwise import __version__
from offerwise._io import (
    FolderKind,
    atomic_dir,
    read_parquet,
    write_json,
    write_table,
    write_text,
)
from offerwise.errors import ModelError
from offerwise.features.model_inputs import FeatureSpec
from offerwise.models.offer_attributes import ATTR_PREFIX, ATTRIBUTE_NAMES
from offerwise.models.response import OfferResponseModel
from offerwise.vocab import UPLIFT_METRICS_LEGEND

#: The model folder's metadata file (booster files, features, offers); it marks the folder as a
#: model, which a later ``train --out`` may replace.
MODEL_FILE = "model.json"
#: A model folder (``model.json`` marks one written before ``.offerwise`` existed).
MODEL_OUTPUT = FolderKind("model", (MODEL_FILE,))

__all__ = [
    "FORMAT_VERSION",
    "MODEL_FILE",
    "MODEL_OUTPUT",
    "FeatureSpec",
    "LoadedModel",
    "load_model",
    "min_gain_reason",
    "no_paying_reach",
    "render_card",
    "save_model",
]

#: Bumped when the model directory layout changes incompatibly.
FORMAT_VERSION = 1


@dataclass(slots=True)
class LoadedModel:
    """A model directory in memory."""

    path: Path
    model: OfferResponseModel
    features: FeatureSpec
    offers: pd.DataFrame
    meta: dict[str, Any]
    card: dict[str, Any]


def save_model(
    out_dir: str | Path,
    model: OfferResponseModel,
    *,
    features: FeatureSpec,
    offers: pd.DataFrame,
    data_fingerprint: str,
    card: dict[str, Any],
    extra: dict[str, Any] | None = None,
    tables: dict[str, pd.DataFrame] | None = None,
    audit: tuple[OfferResponseModel, dict[str, Any]] | None = None,
) -> Path:
    """Write the model directory atomically (replacing any previous one) and return its path.

    ``tables``: extra Parquet files by stem (e.g. ``{"oof": keys}`` -> ``oof.parquet``).
    ``audit``: a second model and its extra metadata, written as the model directory
    ``audit/`` inside (a model fitted without some customers, that checks the plans on them).
    """
    out_dir = Path(out_dir)
    with atomic_dir(out_dir, MODEL_OUTPUT) as tmp:
        _write_model(tmp, model, features, offers, data_fingerprint, card, extra, tables)
        if audit is not None:
            sub = tmp / "audit"
            sub.mkdir()
            a_model, a_extra = audit
            a_card = {"learner": card.get("learner"), "profit": card.get("profit"), **a_extra}
            _write_model(sub, a_model, features, offers, data_fingerprint, a_card, a_extra, None)
    return out_dir


def _write_model(
    tmp: Path,
    model: OfferResponseModel,
    features: FeatureSpec,
    offers: pd.DataFrame,
    data_fingerprint: str,
    card: dict[str, Any],
    extra: dict[str, Any] | None,
    tables: dict[str, pd.DataFrame] | None,
) -> None:
    """The files of one model directory, written into the (temporary) folder ``tmp``."""
    state, boosters = model.to_state()
    if len(features.columns) != state["n_features_in"]:
        raise ModelError(
            f"feature spec has {len(features.columns)} columns but the model was fitted on "
            f"{state['n_features_in']}"
        )
    names = sorted(boosters)
    files = {name: f"boosters/{i:03d}.txt" for i, name in enumerate(names)}
    meta = {
        "format_version": FORMAT_VERSION,
        "version": __version__,
        "data_fingerprint": data_fingerprint,
        "features": features.to_dict(),
        "feature_list": list(features.columns),
        "offers": [str(o) for o in offers["offer_id"]],
        "scored_offers": list(
            state.get("scored_offers") or [e["offer_id"] for e in state["offers"]]
        ),
        "response_model": state,
        "booster_files": files,
        **(extra or {}),
    }
    (tmp / "boosters").mkdir()
    for name in names:
        write_text(boosters[name].model_to_string(), tmp / files[name])
    write_table(offers.reset_index(drop=True), tmp / "offers.parquet")
    for stem, df in (tables or {}).items():
        write_table(df.reset_index(drop=True), tmp / f"{stem}.parquet")
    write_json(meta, tmp / MODEL_FILE)
    full_card = {"version": __version__, "data_fingerprint": data_fingerprint, **card}
    write_json(full_card, tmp / "model_card.json")
    write_text(render_card(full_card), tmp / "model_card.md")


def load_model(model_dir: str | Path) -> LoadedModel:
    """Read a model directory; raise :class:`ModelError` if it is missing or incompatible."""
    import lightgbm as lgb

    d = Path(model_dir)
    mj = d / MODEL_FILE
    if not mj.exists():
        raise ModelError(f"{d}: not a model directory (model.json missing); run `offerwise train`")
    try:
        meta = json.loads(mj.read_text())
    except json.JSONDecodeError as exc:
        raise ModelError(f"{mj}: cannot parse: {exc}") from exc
    fv = meta.get("format_version")
    if fv != FORMAT_VERSION:
        raise ModelError(
            f"{d}: model format version {fv!r} is not supported by offerwise {__version__} "
            f"(expects {FORMAT_VERSION}); retrain with `offerwise train`"
        )
    features = FeatureSpec.from_dict(meta["features"])
    if features.columns != meta.get("feature_list"):
        raise ModelError(f"{mj}: feature list and feature spec disagree")
    state = meta["response_model"]
    if state["n_features_in"] != len(features.columns):
        raise ModelError(
            f"{mj}: the model expects {state['n_features_in']} features but lists "
            f"{len(features.columns)}"
        )
    boosters = {}
    for name, rel in meta["booster_files"].items():
        p = d / rel
        if not p.exists():
            raise ModelError(f"{d}: booster file {rel} is missing")
        b = lgb.Booster(model_file=str(p))
        n_expected = len(features.columns)
        if name.startswith("pooled/"):
            n_expected += len(state["menu"])
        elif name.startswith(ATTR_PREFIX) and name != f"{ATTR_PREFIX}conv_base":
            n_expected += 0 if name == f"{ATTR_PREFIX}conv_r0" else len(ATTRIBUTE_NAMES)
        if b.num_feature() != n_expected:
            raise ModelError(f"{p}: booster has {b.num_feature()} features, expected {n_expected}")
        boosters[name] = b
    model = OfferResponseModel.from_state(state, boosters)
    offers_path = d / "offers.parquet"
    if not offers_path.exists():
        raise ModelError(f"{d}: offers.parquet is missing")
    offers = read_parquet(offers_path)
    card_path = d / "model_card.json"
    card = json.loads(card_path.read_text()) if card_path.exists() else {}
    return LoadedModel(path=d, model=model, features=features, offers=offers, meta=meta, card=card)


def _fmt(v: Any) -> str:
    if v is None:
        return "n/a"
    if isinstance(v, float):
        return f"{v:.4g}"
    return str(v)


def _identification_lines(ident: dict[str, Any] | None) -> list[str]:
    """The card's "Can these numbers be trusted?" section (``card["identification"]``)."""
    if not ident:
        return []
    lines = [
        "",
        "## Can these numbers be trusted?",
        "",
        f"**Verdict: {ident.get('verdict')}.** Logging: {ident.get('logging')} — "
        f"{ident.get('logging_reason')}.",
        "",
    ]
    lines += [f"- {r}" for r in ident.get("reasons", [])]
    pl = ident.get("placebo")
    if pl:
        lines += [
            "",
            f"Placebo ({pl.get('outcome')} in the {pl.get('window_days')} days before the "
            f"offer; should be 0): {_fmt(pl.get('estimate'))} per customer, 95% interval "
            f"[{_fmt(pl.get('ci_low'))}, {_fmt(pl.get('ci_high'))}], p = "
            f"{_fmt(pl.get('p_value'))}, {pl.get('n')} exposures.",
        ]
    ov = ident.get("overlap", [])
    if ov:
        lines += [
            "",
            "| offer | n offer | n none | median e(x) | share outside [0.05, 0.95] | "
            "ESS offer | ESS none |",
            "|---|---|---|---|---|---|---|",
        ]
        lines += [
            f"| {o['offer']} | {o['n_offer']} | {o['n_none']} | "
            f"{_fmt((o.get('quantiles') or {}).get('p50'))} | {_fmt(o.get('share_outside'))} | "
            f"{_fmt(o.get('ess_offer'))} | {_fmt(o.get('ess_none'))} |"
            for o in ov
        ]
    se = ident.get("sensitivity")
    if se:
        lines += [
            "",
            f"Sensitivity ({se.get('method')}): E-value {_fmt(se.get('e_value'))} — "
            f"{se.get('note')}",
        ]
    return lines


def _tuning_lines(t: Any) -> list[str]:
    """The card's "Model selection" section: what ``train --tune`` tried and chose."""
    if not isinstance(t, dict):
        return []
    lines = [
        "",
        f"## Model selection (`--tune {t.get('mode')}`)",
        "",
        f"Each candidate was cross-fitted ({t.get('n_folds')} folds by {t.get('folds_by')}) and "
        f"scored by the {t.get('score')}; propensities {t.get('propensities')}. Rule: "
        f"{t.get('rule')}.",
        "",
        "| candidate | value per customer | vs default (± s.e.) | seconds |",
        "|---|---|---|---|",
    ]
    chosen = t.get("chosen") or {}
    for c in t.get("candidates", []):
        mark = " **(chosen)**" if all(c.get(k) == v for k, v in chosen.items()) else ""
        lines.append(
            f"| {c.get('label')}{mark} | {_fmt(c.get('value_per_customer'))} | "
            f"{_fmt(c.get('diff_vs_default'))} ± {_fmt(c.get('se_vs_default'))} | "
            f"{_fmt(c.get('seconds'))} |"
        )
    return lines


def _embedding_lines(emb: dict[str, Any] | None) -> list[str]:
    """The card's line on sequence embeddings (none without them)."""
    if not emb:
        return []
    return [
        f"- sequence embeddings: {emb.get('dim')} columns `seq_emb_*`, {emb.get('note')} "
        f"(before {emb.get('fit_before')}; {emb.get('categories')} categories, last "
        f"{emb.get('max_len')} orders; next-order loss {_fmt(emb.get('loss'))} nats vs "
        f"{_fmt(emb.get('baseline_loss'))} without history)"
    ]


def _affinity_lines(aff: dict[str, Any] | None) -> list[str]:
    """The card's line on the collaborative-filtering category affinity (none without it)."""
    if not aff or aff.get("kind") != "cf" or not aff.get("categories"):
        return []
    cols = ", ".join(f"`category_affinity={c}`" for c in aff["categories"])
    return [
        f"- category affinity: {cols}: {aff.get('note')} ({aff.get('n_categories')} categories, "
        f"{aff.get('n_factors')} factors, orders of the {aff.get('window_days')} days before "
        f"{aff.get('fitted_before')})"
    ]


def no_paying_reach(value_by_share: dict[str, float]) -> str:
    """A card's minimum gain with ``pays`` false, in words: no reach paid out of fold, and the
    least loss (``value_by_share``: out-of-fold DR value per customer by reach)."""
    least = max(value_by_share, key=value_by_share.__getitem__) if value_by_share else None
    where = (
        f" (the least loss {float(value_by_share[least]):+,.3f} per customer, at a reach of "
        f"{least})"
        if least
        else ""
    )
    return "out of fold no reach of the model's predicted gains paid" + where


def min_gain_reason(mg: dict[str, Any]) -> str:
    """Why a card's minimum predicted gain (``min_gain`` of a card that pays) sits at its reach,
    in words shared by ``model_card.md`` and ``plan``. A card trained before ``share_best`` chose
    the best reach itself."""
    share = float(mg.get("share", 1.0))
    best = float(mg.get("share_best", share))
    if best >= 1.0:
        return "the doubly-robust plan value is best when reaching every positive gain"
    head = f"the doubly-robust plan value is best at a reach of {best:.0%}"
    if share >= 1.0:
        return (
            f"{head}, and reaching every positive gain is within one standard error of it "
            "(paired over customers): no evidence for a cut"
        )
    if share == best:
        return head
    return (
        f"{head}; {share:.0%} is the largest reach within one standard error of it (paired over "
        "customers)"
    )


def min_gain_text(mg: dict[str, Any]) -> str:
    """The card's minimum predicted gain in words (``min_gain`` of a card that pays)."""
    share = float(mg.get("share", 1.0))
    head = (
        "none: every positive gain"
        if share >= 1.0
        else f"{_fmt(mg['threshold'])} per offer (reaching {share:.0%} of the customers)"
    )
    z = _fmt(mg.get("z_vs_full"))
    return f"{head}: out of fold {min_gain_reason(mg)}; z = {z} for the best reach against full"


def render_card(card: dict[str, Any]) -> str:
    """The model card as Markdown."""
    bags = f", {card['n_bags']} seed bags in the conversion model" if card.get("n_bags") else ""
    lines = [
        "# offerwise model card",
        "",
        f"- offerwise version: {card.get('version')}",
        f"- data fingerprint: {card.get('data_fingerprint')}",
        f"- created: {card.get('created_at', 'n/a')}",
        f"- learner: {card.get('learner')} (profit: {card.get('profit')}{bags})",
        f"- seed: {card.get('seed')}",
        f"- exposures: {card.get('n_exposures')} (the saved model is fitted on "
        f"{card.get('n_train')})",
        f"- features ({len(card.get('features', []))}): {', '.join(card.get('features', []))}",
        *_embedding_lines(card.get("embeddings")),
        *_affinity_lines(card.get("affinity")),
        "",
        "## Propensities",
        "",
    ]
    prop = card.get("propensity", {})
    lines.append(
        f"Source: {prop.get('source')}; "
        f"clipped to [{prop.get('clip_low')}, {prop.get('clip_high')}]; "
        f"{prop.get('n_clipped')} of {prop.get('n_rows')} rows clipped."
    )
    lines += _identification_lines(card.get("identification"))
    lines += _tuning_lines(card.get("tuning"))
    mg = card.get("min_gain")
    if isinstance(mg, dict) and mg.get("pays") is False:
        lines += [
            "",
            "Minimum predicted gain for `plan --min-gain auto`: none: "
            f"{no_paying_reach(mg.get('value_by_share') or {})}, which is no evidence for a cut: "
            "`plan` gives every positive gain, and its held-out check says what the plan is worth.",
        ]
    elif isinstance(mg, dict) and "threshold" in mg:
        lines += ["", f"Minimum predicted gain for `plan --min-gain auto`: {min_gain_text(mg)}."]
    src = card.get("metrics_source")
    title = "Out-of-fold metrics" if src else "Holdout metrics"
    lines += ["", f"## {title} (per offer vs `none`, outcome: net profit)", ""]
    if src:
        lines += [f"Metrics {src}.", ""]
    lines.append(
        "| offer | n treated | n control | Qini (norm.) | AUUC (norm.) | uplift@10% | "
        "conversion AUC | cost MAE |"
    )
    lines.append("|---|---|---|---|---|---|---|---|")
    for o, m in card.get("holdout", {}).get("per_offer", {}).items():
        lines.append(
            f"| {o} | {_fmt(m.get('n_treatment'))} | {_fmt(m.get('n_control'))} | "
            f"{_fmt(m.get('qini_normalized'))} | {_fmt(m.get('auuc_normalized'))} | "
            f"{_fmt(m.get('uplift_at_10'))} | {_fmt(m.get('conversion_auc'))} | "
            f"{_fmt(m.get('cost_mae'))} |"
        )
    h = card.get("holdout", {})
    lines += [
        "",
        f"Overall conversion AUC (logged arm): {_fmt(h.get('conversion_auc'))}; "
        f"cost MAE (treated rows): {_fmt(h.get('cost_mae'))}.",
        "",
        UPLIFT_METRICS_LEGEND,
    ]
    cal = h.get("calibration", {})
    if cal:
        lines += ["", "### Calibration (predicted vs observed uplift of net profit, by decile)", ""]
        for o, rows in cal.items():
            lines.append(
                f"**{o}**: "
                + "; ".join(
                    f"{_fmt(r.get('predicted'))} vs {_fmt(r.get('observed'))}" for r in rows
                )
            )
    extrapolated = card.get("extrapolated_offers", [])
    if extrapolated:
        lines += [
            "",
            "## Extrapolated offers (scored from their attributes, flagged `extrapolated`)",
            "",
            "Too few logged exposures for a model of their own: their scores come from a model "
            "of what offers are (kind, depth, threshold, scope, duration) fitted on every "
            "exposure. `plan` leaves them out unless the rules say "
            "`allow_extrapolated_offers = true`.",
            "",
        ]
        lines += [f"- {s['offer_id']}: {s['reason']}" for s in extrapolated]
    skipped = card.get("skipped_offers", [])
    lines += ["", "## Skipped offers (no score rows)", ""]
    lines += [f"- {s['offer_id']}: {s['reason']}" for s in skipped] or ["none"]
    warns = card.get("warnings", [])
    lines += ["", "## Warnings", ""]
    lines += [f"- {w}" for w in warns] or ["none"]
    return "\n".join(lines) + "\n"
