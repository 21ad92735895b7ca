"""Demand: weekly sales forecasts (statsforecast), own-price elasticities (double ML), the price
index against competitors and stock cover.

Layer 2: imports only ``data`` and the base modules. statsforecast is imported on use; a missing
one names the extra to install (``pip install 'offerwise[demand]'``).
"""

from __future__ import annotations

from offerwise._lazy import lazy_exports

_EXPORTS = {
    "WeeklySales": "weekly",
    "weekly_sales": "weekly",
    "ForecastFit": "forecast",
    "Backtest": "forecast",
    "fit_forecast": "forecast",
    "score_backtest": "forecast",
    "mase": "forecast",
    "coverage": "forecast",
    "Elasticity": "elasticity",
    "ElasticitySpec": "elasticity",
    "PricePanel": "elasticity",
    "price_panel": "elasticity",
    "dml_elasticity": "elasticity",
    "category_elasticities": "elasticity",
    "StockPolicy": "competition",
    "category_price_index": "competition",
    "category_stock": "competition",
    "stock_weight": "competition",
    "add_competitor_prices": "elasticity",
    "DemandConfig": "synthetic",
    "DemandMarket": "synthetic",
    "simulate_demand": "synthetic",
}

__all__ = sorted(_EXPORTS)

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
