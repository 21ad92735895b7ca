"""Fixtures of the offer-service tests (defined in serving_testlib.py; ``postgres_url`` is in
tests/conftest.py, shared with the data-source tests)."""

from serving_testlib import inputs  # noqa: F401
