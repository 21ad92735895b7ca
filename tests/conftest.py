"""Shared test fixtures."""

from __future__ import annotations

import os

os.environ.setdefault("OFFERWISE_THREADS", "1")
