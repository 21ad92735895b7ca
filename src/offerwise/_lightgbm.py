"""LightGBM's core API (``Booster``, ``Dataset``, ``train``) without the scikit-learn import it
makes on the side.

``import lightgbm`` imports scikit-learn, when it is installed, to define its sklearn-style
estimators (``LGBMClassifier`` ...), and scikit-learn imports ``scipy.stats``: about 1.2 s of
every command's start-up on 2 cores (``python -X importtime -c "import lightgbm"``), for classes
offerwise does not use. :func:`lean_import` imports LightGBM with scikit-learn hidden, so that
``lightgbm.compat`` finds it missing. Its sklearn-style estimators then refuse to be built
(LightGBM says scikit-learn is required) for the rest of the process, so only the ``offerwise``
command calls it (:func:`offerwise.cli.main`, before any thread starts, for the commands that fit
or load models); importing offerwise as a library never does. scikit-learn itself stays
importable afterwards. ``OFFERWISE_LEAN_LIGHTGBM=0`` turns it off (LightGBM imported as usual).
"""

from __future__ import annotations

import os
import sys

__all__ = ["lean_import"]


def lean_import() -> bool:
    """Import LightGBM with scikit-learn hidden; True if it did. Nothing happens (False) when
    either is already imported, when ``OFFERWISE_LEAN_LIGHTGBM=0``, or when the lean import
    fails (LightGBM is then imported as usual on first use). Call it before any other thread
    runs: another thread importing scikit-learn meanwhile would find it missing."""
    if os.environ.get("OFFERWISE_LEAN_LIGHTGBM", "1") == "0":
        return False
    if "lightgbm" in sys.modules or "sklearn" in sys.modules:
        return False
    sys.modules["sklearn"] = None  # type: ignore[assignment]  # `import sklearn` raises ImportError
    try:
        import lightgbm  # noqa: F401
    except Exception:  # pragma: no cover - depends on the installed LightGBM
        for name in [m for m in sys.modules if m == "lightgbm" or m.startswith("lightgbm.")]:
            del sys.modules[name]
        return False
    finally:
        if "sklearn" in sys.modules and sys.modules["sklearn"] is None:
            del sys.modules["sklearn"]
    return True
