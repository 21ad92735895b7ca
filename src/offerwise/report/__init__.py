"""The one-file HTML report: segment profiles, uplift curves, budget frontier, offer mix,
fairness audit, feature importance with reason codes and campaign results.

matplotlib (``pip install 'offerwise[report]'``) is imported only when a plot is drawn.
"""

from offerwise.report.html import build_report, render_html
from offerwise.report.inputs import ReportInputs, load_inputs
from offerwise.report.tables import (
    CampaignResults,
    KeyNumbers,
    campaign_results,
    curves_table,
    fairness_audit,
    four_fifths_summary,
    key_numbers,
    offer_colors,
)

__all__ = [
    "CampaignResults",
    "KeyNumbers",
    "ReportInputs",
    "build_report",
    "campaign_results",
    "curves_table",
    "fairness_audit",
    "four_fifths_summary",
    "key_numbers",
    "load_inputs",
    "offer_colors",
    "render_html",
]
