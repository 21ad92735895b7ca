"""``run_server(settings)``: bootstrap once, then uvicorn with N workers (``offerwise serve``)."""

from __future__ import annotations

import os
from collections.abc import Callable

from offerwise.serving.settings import ServeSettings


def settings_env(settings: ServeSettings) -> dict[str, str]:
    """``OFFERWISE_SERVE_*`` variables that rebuild ``settings`` in a worker process."""
    out = {}
    for name, value in settings.model_dump().items():
        if value is not None:
            out[f"OFFERWISE_SERVE_{name.upper()}"] = str(value)
    return out


def run_server(
    settings: ServeSettings, on_ready: Callable[[ServeSettings], None] | None = None
) -> None:
    """Migrate and load the plan in this process, then serve (workers skip the plan load).

    ``on_ready(settings)`` runs once the database is ready and the plan loaded, just before the
    server starts listening (``offerwise serve`` prints its address there).
    """
    from offerwise.errors import require
    from offerwise.serving.app import bootstrap

    uvicorn = require("uvicorn", "serve")
    bootstrap(settings).dispose()
    if on_ready is not None:
        on_ready(settings)
    os.environ.update(settings_env(settings.model_copy(update={"load_plan": False})))
    uvicorn.run(
        "offerwise.serving.app:create_app",
        factory=True,
        host=settings.host,
        port=settings.port,
        workers=settings.workers,
        log_level=settings.log_level,
        access_log=False,
    )


__all__ = ["run_server", "settings_env"]
