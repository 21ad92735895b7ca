"""The operator console's page (``GET /console``): one self-contained HTML document.

Inline CSS and JavaScript, no external resource: the script reads the admin key from the page's
own URL (``?key=``), fetches ``GET /v1/campaigns`` and ``GET /v1/campaigns/{id}/stats`` of the
active and newest campaigns (``?campaigns=N``, 10) with it (``X-API-Key``) and draws every figure
from those answers (tables, an inline SVG line of the budget burn). Each figure's element carries
``data-field`` and ``data-value`` (the API's raw value) beside its formatted text. The
Content-Security-Policy allows only these inline blocks (by their SHA-256) and requests to the
service itself.
"""

from __future__ import annotations

import base64
import hashlib

CSS = """
body{font:14px/1.4 system-ui,-apple-system,"Segoe UI",sans-serif;margin:0;color:#1f2430;
  background:#f4f5f7}
header{display:flex;gap:1rem;align-items:center;padding:.6rem 1.2rem;background:#1f2430;color:#fff}
header h1{font-size:1.1rem;margin:0;flex:1}
button{font:inherit;padding:.2rem .8rem;cursor:pointer}
main{padding:1rem 1.2rem;max-width:1400px}
section.campaign{background:#fff;border:1px solid #d8dbe2;border-radius:6px;padding:.4rem 1rem 1rem;
  margin-bottom:1.2rem}
h2{font-size:1.05rem;margin:.6rem 0 .2rem}
h3{font-size:.95rem;margin:.2rem 0 .4rem}
.meta{color:#5a6070;margin:0 0 .6rem;font-size:.85rem}
.grid{display:grid;grid-template-columns:repeat(auto-fit,minmax(320px,1fr));gap:1rem;
  margin-bottom:1rem}
.card{border:1px solid #e3e5ea;border-radius:4px;padding:.5rem .7rem;overflow-x:auto}
table{border-collapse:collapse;width:100%}
th,td{padding:.15rem .5rem;border-bottom:1px solid #eef0f3;text-align:right;white-space:nowrap}
th:first-child,td:first-child{text-align:left}
thead th{font-weight:600;color:#5a6070;font-size:.85rem}
.badge{display:inline-block;padding:0 .4rem;border-radius:3px;font-size:.8rem;
  background:#e3e5ea;color:#1f2430;vertical-align:middle}
.badge.good{background:#d7f0dd;color:#14532d}
.badge.bad{background:#fbd5d5;color:#7f1d1d}
.badge.warn{background:#fdf0c8;color:#6b4e00}
.na{color:#5a6070;font-style:italic}
ul{margin:.2rem 0;padding-left:1.2rem}
svg text{font-size:11px;fill:#5a6070}
#status.error{color:#ffb4b4}
"""

JS = r"""
"use strict";
(() => {
  const params = new URLSearchParams(location.search);
  const key = params.get("key");
  const every = Number(params.get("refresh") ?? 30);
  const shown = Number(params.get("campaigns") ?? 10);
  const headers = key ? {"X-API-Key": key} : {};
  const SVG = "http://www.w3.org/2000/svg";
  const statusEl = document.getElementById("status");
  let timer = null;

  function el(tag, attrs, ...kids) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (k === "class") e.className = v; else e.setAttribute(k, v);
    }
    for (const c of kids) e.append(c instanceof Node ? c : String(c));
    return e;
  }
  function svg(tag, attrs, text) {
    const e = document.createElementNS(SVG, tag);
    for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, String(v));
    if (text !== undefined) e.textContent = text;
    return e;
  }
  const money = v => v.toLocaleString("en-US",
    {minimumFractionDigits: 2, maximumFractionDigits: 2});
  const count = v => v.toLocaleString("en-US");
  const pct = v => v === null ? "n/a" : (100 * v).toFixed(1) + " %";
  const num = v => v === null ? "n/a" : (v !== 0 && Math.abs(v) < 1e-4 ?
    v.toExponential(2) : v.toFixed(4));
  const when = s => new Date(s).toISOString().replace("T", " ").slice(0, 19) + " UTC";

  // a cell holding one figure: its text, and the API's raw value in data-value
  function fig(field, value, fmt, tag) {
    return el(tag || "td", {"data-field": field, "data-value": JSON.stringify(value)},
      fmt(value));
  }
  function table(head, rows) {
    const tr = el("tr", {}, ...head.map(h => el("th", {}, h)));
    return el("table", {}, el("thead", {}, tr), el("tbody", {}, ...rows));
  }
  function kv(rows) {  // [label, field, value, fmt]
    return el("table", {}, el("tbody", {}, ...rows.map(([label, field, value, fmt]) =>
      el("tr", {}, el("th", {}, label), fig(field, value, fmt)))));
  }
  function card(title, ...kids) { return el("div", {class: "card"}, el("h3", {}, title), ...kids); }

  async function get(path) {
    const r = await fetch(path, {headers, cache: "no-store"});
    let body = null;
    try { body = await r.json(); } catch (e) { body = null; }
    if (!r.ok) throw new Error(path + ": " + r.status + " " + ((body && body.detail) || ""));
    return body;
  }

  function burnChart(s) {
    const W = 560, H = 220, L = 64, R = 12, T = 12, B = 28;
    const pts = s.burn.map(p => [Date.parse(p.at), p.spent]);
    const x0 = pts[0][0], x1 = Math.max(pts[pts.length - 1][0], x0 + 1);
    const ymax = Math.max(s.budget, ...pts.map(p => p[1]), 0.01);
    const X = t => L + (t - x0) / (x1 - x0) * (W - L - R);
    const Y = v => T + (1 - v / ymax) * (H - T - B);
    const last = s.burn[s.burn.length - 1];
    const root = svg("svg", {viewBox: `0 0 ${W} ${H}`, width: W, height: H, role: "img",
      "data-chart": "burn", "data-points": s.burn.length, "data-last-spent": last.spent});
    root.append(svg("title", {}, `budget burn of ${s.campaign_id}`));
    root.append(svg("line", {x1: L, y1: H - B, x2: W - R, y2: H - B, stroke: "#9aa0ad"}));
    root.append(svg("line", {x1: L, y1: T, x2: L, y2: H - B, stroke: "#9aa0ad"}));
    root.append(svg("line", {x1: L, y1: Y(s.budget), x2: W - R, y2: Y(s.budget),
      stroke: "#b91c1c", "stroke-dasharray": "5 4", "data-series": "budget"}));
    root.append(svg("text", {x: L - 4, y: Y(s.budget) + 4, "text-anchor": "end"},
      money(s.budget)));
    root.append(svg("text", {x: L - 4, y: H - B + 4, "text-anchor": "end"}, "0"));
    root.append(svg("polyline", {points: pts.map(p => `${X(p[0]).toFixed(1)},` +
      `${Y(p[1]).toFixed(1)}`).join(" "), fill: "none", stroke: "#2563eb", "stroke-width": 2,
      "data-series": "spent"}));
    root.append(svg("text", {x: X(pts[pts.length - 1][0]) - 4, y: Y(last.spent) - 6,
      "text-anchor": "end", "data-series": "spent-label"}, money(last.spent)));
    root.append(svg("text", {x: L, y: H - 8}, when(s.burn[0].at)));
    root.append(svg("text", {x: W - R, y: H - 8, "text-anchor": "end"}, when(last.at)));
    return root;
  }

  function srmCard(m) {
    const cls = {ok: "good", mismatch: "bad", insufficient_data: "warn", no_holdout: "warn"};
    return card("Sample-ratio mismatch (holdout vs treatment)",
      el("p", {}, el("span", {class: "badge " + cls[m.status], "data-field": "srm_status",
        "data-value": JSON.stringify(m.status)}, m.status.replace("_", " "))),
      kv([["expected holdout share", "srm_expected_share", m.expected_holdout_share, pct],
          ["observed holdout", "srm_observed_holdout", m.observed_holdout, count],
          ["observed treatment", "srm_observed_treatment", m.observed_treatment, count],
          ["expected holdout", "srm_expected_holdout", m.expected_holdout,
            v => v === null ? "n/a" : v.toFixed(1)],
          ["chi-square (1 df)", "srm_chi2", m.chi2, num],
          ["p-value", "srm_p_value", m.p_value, num],
          ["alarm below", "srm_alpha", m.alpha, String]]),
      el("p", {class: "meta"}, m.detail));
  }

  function identCard(i) {
    if (!i.available) {
      return card("Model identification",
        el("p", {class: "na", "data-field": "identification", "data-value": "null"},
          "not available: " + i.unavailable_reason));
    }
    return card("Model identification",
      el("p", {}, "verdict ", el("span", {class: "badge " + (i.verified ? "good" : "bad"),
        "data-field": "identification", "data-value": JSON.stringify(i.verdict)}, i.verdict),
        i.verified ? " (profit verified)" : " (profit unverified)"),
      i.reasons.length ? el("ul", {}, ...i.reasons.map(r => el("li", {}, r))) : "",
      i.experiment ? el("p", {class: "meta"}, "experiment: " + i.experiment) : "");
  }

  function campaign(s) {
    const offerRows = s.by_offer.map(o => el("tr", {"data-offer": o.offer_id},
      el("td", {}, o.offer_id), fig("exposures", o.exposures, count),
      fig("explored", o.explored, count), fig("coupons_issued", o.coupons_issued, count),
      fig("redemptions", o.redemptions, count), fig("rolled_back", o.rolled_back, count),
      fig("spent", o.spent, money)));
    const segRows = s.by_segment.map(g => el("tr", {"data-segment": JSON.stringify(g.segment)},
      el("td", {}, g.segment === null ? "(no segment)" : g.segment),
      fig("customers_in_plan", g.customers_in_plan, count),
      fig("holdout_customers", g.holdout_customers, count),
      fig("exposures", g.exposures, count), fig("offered", g.offered, count),
      fig("coupons_issued", g.coupons_issued, count),
      fig("redemptions", g.redemptions, count), fig("spent", g.spent, money)));
    return el("section", {class: "campaign", "data-campaign": s.campaign_id},
      el("h2", {}, s.campaign_id, " ", el("span", {class: "badge" + (s.active ? " good" : "")},
        s.active ? "active" : "inactive")),
      el("p", {class: "meta"}, `created ${when(s.created_at)}; figures of ` +
        `${when(s.generated_at)}`),
      el("div", {class: "grid"},
        card("Budget and ledger", kv([
          ["budget", "budget", s.budget, money], ["spent", "spent", s.spent, money],
          ["remaining", "remaining", s.remaining, money],
          ["redemptions", "redemptions", s.redemptions, count],
          ["rolled back", "rolled_back", s.rolled_back, count],
          ["offers issued (coupons)", "offers_issued", s.offers_issued, count],
          ["exposures (decisions)", "exposures", s.exposures, count],
          ["customers in plan", "customers_in_plan", s.customers_in_plan, count]])),
        card("Budget burn (cumulative net spend; dashed: budget)", burnChart(s))),
      el("div", {class: "grid"},
        card("Holdout and exploration", kv([
          ["treatment exposures", "treatment_exposures", s.treatment_exposures, count],
          ["holdout exposures", "holdout_exposures", s.holdout_exposures, count],
          ["cold-start exposures", "cold_start_exposures", s.cold_start_exposures, count],
          ["holdout share (exposures)", "holdout_share", s.holdout_share, pct],
          ["holdout share (plan's customers)", "srm_plan_share", s.srm.expected_holdout_share,
            pct],
          ["holdout fraction (plan summary)", "plan_holdout_fraction", s.plan_holdout_fraction,
            pct],
          ["explored exposures", "explored", s.explored, count],
          ["exploration share", "exploration_share", s.exploration_share, pct],
          ["service epsilon", "epsilon", s.epsilon, pct],
          ["plan's exploration share", "explore_plan", s.explore_plan, pct]])),
        srmCard(s.srm), identCard(s.identification)),
      card("Offers by offer", table(["offer", "exposures", "explored", "coupons", "redemptions",
        "rolled back", "spent"], offerRows)),
      card("Offers by segment", table(["segment", "customers", "holdout", "exposures",
        "offered", "coupons", "redemptions", "spent"], segRows)));
  }

  async function load() {
    clearTimeout(timer);
    document.body.dataset.state = "loading";
    try {
      const list = (await get("/v1/campaigns")).campaigns;
      const stats = await Promise.all(list.slice(0, shown).map(c =>
        get("/v1/campaigns/" + encodeURIComponent(c.campaign_id) + "/stats")));
      const more = list.length - stats.length;
      const main = document.getElementById("campaigns");
      main.replaceChildren(...(stats.length ? stats.map(campaign) :
        [el("p", {class: "na"}, "no campaign loaded")]), ...(more > 0 ? [el("p", {class: "na"},
        `${more} older campaign(s) not shown (?campaigns=N shows the newest N)`)] : []));
      statusEl.className = "";
      statusEl.textContent = "updated " + new Date().toLocaleTimeString() +
        (every > 0 ? ` (every ${every} s)` : "");
      document.body.dataset.state = "ready";
    } catch (err) {
      statusEl.className = "error";
      statusEl.textContent = String(err.message || err);
      document.body.dataset.state = "error";
      console.error("console: " + (err.message || err));
    }
    if (every > 0) timer = setTimeout(load, every * 1000);
  }
  document.getElementById("refresh").addEventListener("click", load);
  load();
})();
"""


def _sha256(text: str) -> str:
    return "sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode()


#: The page's Content-Security-Policy: its own inline blocks, requests to the service only.
CSP = (
    f"default-src 'none'; script-src '{_sha256(JS)}'; style-src '{_sha256(CSS)}'; "
    "connect-src 'self'; img-src data:; base-uri 'none'; form-action 'none'; "
    "frame-ancestors 'none'"
)

PAGE = (
    '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
    '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
    "<title>offerwise operator console</title>\n"
    '<link rel="icon" href="data:,">\n'
    f"<style>{CSS}</style>\n</head>\n"
    '<body data-state="loading">\n<header><h1>offerwise operator console</h1>'
    '<span id="status" role="status">loading</span>'
    '<button id="refresh" type="button">Refresh</button></header>\n'
    '<main id="campaigns"></main>\n'
    f"<script>{JS}</script>\n</body>\n</html>\n"
)

__all__ = ["CSP", "CSS", "JS", "PAGE"]
