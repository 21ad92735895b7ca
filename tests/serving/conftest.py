"""Fixtures of the offer-service tests (defined in serving_testlib.py)."""

from serving_testlib import inputs, postgres_url  # noqa: F401
