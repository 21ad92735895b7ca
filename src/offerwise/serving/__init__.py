"""The HTTP offer service (extra ``serve``): offers, coupons and the redemption ledger.

Public API: ``create_app(settings)``, ``ServeSettings``, ``run_server(settings)``,
``export_exposures(db_url, out_dir) -> ExportedExposures`` (the file's path and the frame written),
``create_api_key(db_url, name, scopes) -> str``.
"""

from __future__ import annotations

from offerwise._lazy import lazy_exports

_EXPORTS = {
    "ServeSettings": "offerwise.serving.settings",
    "create_app": "offerwise.serving.app",
    "bootstrap": "offerwise.serving.app",
    "run_server": "offerwise.serving.server",
    "export_exposures": "offerwise.serving.ledger",
    "exposures_frame": "offerwise.serving.ledger",
    "create_api_key": "offerwise.serving.security",
    "revoke_api_key": "offerwise.serving.security",
    "load_plan": "offerwise.serving.storage",
    "make_engine": "offerwise.serving.storage",
    "migrate": "offerwise.serving.storage",
}

__all__ = sorted(_EXPORTS)


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
