"""API keys and rate limits.

A key reads ``ow_<key_id>_<secret>``: ``key_id`` (16 hex digits) finds the row, the secret is
checked against ``HMAC-SHA256(salt, secret)`` (a random 16-byte salt per key) in constant time; the
plaintext is shown once and never stored. Scopes: ``decide`` (checkout calls: offer, validate,
redeem, rollback) and ``admin`` (campaigns, events; admin keys may also call every decide route).

Rate limits are token buckets per key *and per worker process* (``rate_per_s`` refill,
``burst`` capacity): with N workers a key may get up to N × the configured rate.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from offerwise.errors import InputError

if TYPE_CHECKING:
    from sqlalchemy import Engine

SCOPES = ("decide", "admin")
_PREFIX = "ow_"


@dataclass(frozen=True, slots=True)
class Principal:
    """A verified API key."""

    key_id: str
    name: str
    scopes: frozenset[str]
    rate_per_s: float | None = None
    burst: int | None = None

    def allows(self, scope: str) -> bool:
        return scope in self.scopes or "admin" in self.scopes


def hash_secret(salt_hex: str, secret: str) -> str:
    """HMAC-SHA256 of ``secret`` keyed by the salt (hex digest)."""
    return hmac.new(bytes.fromhex(salt_hex), secret.encode(), hashlib.sha256).hexdigest()


def split_key(key: str) -> tuple[str, str] | None:
    """``ow_<16 hex>_<secret>`` → (key_id, secret), or None when malformed."""
    if not key.startswith(_PREFIX) or len(key) < len(_PREFIX) + 18:
        return None
    key_id, sep, secret = key[len(_PREFIX) :].partition("_")
    if (
        not sep
        or len(key_id) != 16
        or not secret
        or any(c not in "0123456789abcdef" for c in key_id)
    ):
        return None
    return key_id, secret


def new_key_material() -> tuple[str, str, str, str]:
    """(plaintext key, key_id, salt hex, hash hex) of a fresh key."""
    key_id = secrets.token_hex(8)
    secret = secrets.token_urlsafe(32)
    salt = secrets.token_hex(16)
    return f"{_PREFIX}{key_id}_{secret}", key_id, salt, hash_secret(salt, secret)


def insert_api_key(
    engine: Engine,
    name: str,
    scopes: list[str] | tuple[str, ...],
    *,
    rate_per_s: float | None = None,
    burst: int | None = None,
) -> str:
    """Store a new hashed key; returns the plaintext key (shown once)."""
    from offerwise.serving.storage import Tables, write_tx

    bad = [s for s in scopes if s not in SCOPES]
    if bad or not scopes:
        raise InputError(
            f"scopes must be a non-empty subset of {', '.join(SCOPES)}; got {list(scopes)}"
        )
    if not name or len(name) > 200:
        raise InputError("api key name must be 1..200 characters")
    if rate_per_s is not None and rate_per_s <= 0:
        raise InputError("rate_per_s must be > 0")
    if burst is not None and burst < 1:
        raise InputError("burst must be >= 1")
    key, key_id, salt, digest = new_key_material()
    t = Tables.get()
    with write_tx(engine) as conn:
        conn.execute(
            t.api_keys.insert().values(
                key_id=key_id,
                name=name,
                salt=salt,
                key_hash=digest,
                scopes=",".join(sorted(set(scopes))),
                rate_per_s=rate_per_s,
                burst=burst,
                created_ts=time.time(),
                revoked_ts=None,
            )
        )
    return key


def revoke_api_key(engine: Engine, key_id: str) -> bool:
    """Mark a key revoked (effective after the in-process cache expires); True if it existed."""
    from offerwise.serving.storage import Tables, write_tx

    t = Tables.get()
    with write_tx(engine) as conn:
        n = conn.execute(
            t.api_keys.update().where(t.api_keys.c.key_id == key_id).values(revoked_ts=time.time())
        ).rowcount
    return bool(n)


def create_api_key(
    db_url: str,
    name: str,
    scopes: list[str] | tuple[str, ...],
    *,
    rate_per_s: float | None = None,
    burst: int | None = None,
) -> str:
    """Create the schema if needed, store a new key, return its plaintext
    (CLI ``offerwise apikey``)."""
    from offerwise.serving.storage import make_engine, migrate

    engine = make_engine(db_url, pool_size=1)
    try:
        migrate(engine)
        return insert_api_key(engine, name, scopes, rate_per_s=rate_per_s, burst=burst)
    finally:
        engine.dispose()


class KeyVerifier:
    """Verifies keys against the database with an in-process cache of ``ttl_s`` seconds."""

    def __init__(self, engine: Engine, ttl_s: float = 30.0, max_entries: int = 10_000):
        self.engine = engine
        self.ttl_s = ttl_s
        self.max_entries = max_entries
        self._cache: dict[str, tuple[Principal | None, float]] = {}
        self._lock = threading.Lock()

    def verify(self, key: str) -> Principal | None:
        """The key's principal, or None for an unknown, wrong or revoked key."""
        ck = hashlib.sha256(key.encode()).hexdigest()
        now = time.monotonic()
        hit = self._cache.get(ck)
        if hit is not None and hit[1] > now:
            return hit[0]
        principal = self._lookup(key)
        with self._lock:
            if len(self._cache) >= self.max_entries:
                self._cache.clear()
            self._cache[ck] = (principal, now + self.ttl_s)
        return principal

    def _lookup(self, key: str) -> Principal | None:
        import sqlalchemy as sa

        from offerwise.serving.storage import Tables, read_tx

        parts = split_key(key)
        if parts is None:
            return None
        key_id, secret = parts
        t = Tables.get()
        with read_tx(self.engine) as conn:
            row = conn.execute(sa.select(t.api_keys).where(t.api_keys.c.key_id == key_id)).first()
        if row is None or row.revoked_ts is not None:
            return None
        if not hmac.compare_digest(hash_secret(row.salt, secret), row.key_hash):
            return None
        return Principal(
            row.key_id, row.name, frozenset(row.scopes.split(",")), row.rate_per_s, row.burst
        )


class RateLimiter:
    """Token buckets per key: ``rate`` tokens/s refill up to ``burst``; one token per request."""

    def __init__(self, rate_per_s: float, burst: int):
        self.rate_per_s = rate_per_s
        self.burst = burst
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def acquire(
        self,
        key_id: str,
        rate: float | None = None,
        burst: int | None = None,
        now: float | None = None,
    ) -> float:
        """Take a token; returns 0 on success, else the seconds until one is available."""
        rate = rate or self.rate_per_s
        cap = float(burst or self.burst)
        now = time.monotonic() if now is None else now
        with self._lock:
            tokens, last = self._buckets.get(key_id, (cap, now))
            tokens = min(cap, tokens + (now - last) * rate)
            if tokens >= 1.0:
                self._buckets[key_id] = (tokens - 1.0, now)
                return 0.0
            self._buckets[key_id] = (tokens, now)
            return (1.0 - tokens) / rate


__all__ = [
    "SCOPES",
    "KeyVerifier",
    "Principal",
    "RateLimiter",
    "create_api_key",
    "hash_secret",
    "insert_api_key",
    "new_key_material",
    "revoke_api_key",
    "split_key",
]
