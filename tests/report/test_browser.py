"""Open the report in headless Chromium: every plot decoded and visibly drawn, no console errors,
no request outside the file itself.

Chromium comes from the system packages (``apt-get install -y chromium``); set
``OFFERWISE_CHROMIUM`` to use another binary. Without it the tests skip, except under CI
(``CI=true``), where a missing browser is a failure.
"""

from __future__ import annotations

import base64
import io
from pathlib import Path

import numpy as np
import pytest
from report_cdp import chromium_or_skip, render

pytestmark = pytest.mark.browser

EXPECTED_PLOTS = {
    "segment_profiles",
    "uplift_curves",
    "budget_frontier",
    "offer_mix",
    "fairness",
    "feature_importance",
    "campaign_results",
    "campaign_breakdown",
    "price_index",
    "forecasts",
    "elasticities",
}


@pytest.fixture(scope="module")
def chromium() -> str:
    return chromium_or_skip()


def _region_stats(screenshot: bytes, box: dict[str, float]) -> tuple[float, float]:
    """(pixel standard deviation, share of non-white pixels) of a box of the screenshot."""
    from PIL import Image

    im = Image.open(io.BytesIO(screenshot)).convert("L")
    x0, y0 = int(box["x"]) + 1, int(box["y"]) + 1
    x1, y1 = int(box["x"] + box["w"]) - 1, int(box["y"] + box["h"]) - 1
    a = np.asarray(im.crop((x0, y0, x1, y1)), dtype=float)
    return float(a.std()), float((a < 235).mean())


def test_report_renders_in_chromium(chromium: str, full_report: Path):
    page = render(full_report, chromium, width=1400)
    assert page.console_errors == []
    outside = [u for u in page.requests if not u.startswith(("file:", "data:"))]
    assert outside == []
    assert {p["name"] for p in page.plots} == EXPECTED_PLOTS
    for p in page.plots:
        assert p["decoded"] and p["complete"], p["name"]
        assert p["naturalWidth"] > 300 and p["naturalHeight"] > 150, p["name"]
        assert p["w"] > 300 and p["h"] > 150, p["name"]  # laid out at a readable size
        assert p["x"] >= 0 and p["x"] + p["w"] <= page.width, p["name"]  # not cut off
        std, ink = _region_stats(page.screenshot, p)
        assert std > 20 and 0.02 < ink < 0.9, (p["name"], std, ink)


def test_harness_detects_broken_and_blank_plots(tmp_path: Path, chromium: str):
    """The checks above can fail: a broken image, a blank image and a console error are caught."""
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (400, 200), "white").save(buf, format="PNG")
    blank = base64.b64encode(buf.getvalue()).decode()
    page_html = (
        "<!DOCTYPE html><html><body>"
        '<img data-plot="broken" src="data:image/png;base64,AAAA" width="400" height="200">'
        f'<img data-plot="blank" src="data:image/png;base64,{blank}" width="400" height="200">'
        "<script>console.error('boom')</script></body></html>"
    )
    f = tmp_path / "bad.html"
    f.write_text(page_html)
    page = render(f, chromium, width=800)
    by = {p["name"]: p for p in page.plots}
    assert not by["broken"]["decoded"] and by["broken"]["naturalWidth"] == 0
    assert by["blank"]["decoded"]
    std, ink = _region_stats(page.screenshot, by["blank"])
    assert std < 1 and ink == 0
    assert any("boom" in e for e in page.console_errors)
