"""``run_server(settings)``: bootstrap once, then uvicorn with N workers (``offerwise serve``)."""

from __future__ import annotations

import os

from offerwise.serving.settings import ServeSettings


def settings_env(settings: ServeSettings) -> dict[str, str]:
    """``OFFERWISE_SERVE_*`` variables that rebuild ``settings`` in a worker process."""
    out = {}
    for name, value in settings.model_dump().items():
        if value is not None:
            out[f"OFFERWISE_SERVE_{name.upper()}"] = str(value)
    return out


def run_server(settings: ServeSettings) -> None:
    """Migrate and load the plan in this process, then serve (workers skip the plan load)."""
    from offerwise.errors import require
    from offerwise.serving.app import bootstrap

    uvicorn = require("uvicorn", "serve")
    bootstrap(settings).dispose()
    os.environ.update(settings_env(settings.model_copy(update={"load_plan": False})))
    uvicorn.run("offerwise.serving.app:create_app", factory=True, host=settings.host, port=settings.port,
                workers=settings.workers, log_level=settings.log_level, access_log=False)


__all__ = ["run_server", "settings_env"]
