"""Replay and revocation checks for :class:`jwtobs.Verifier` (``Verifier(..., replay=ReplayGuard(...))``).

The guard runs after every other check passed, so only tokens that would be accepted consume state. It needs
a small key-value store with two operations, shaped after Redis so a Redis client drops in:

``set_if_absent(key, ttl) -> bool``   ``SET key 1 NX EX ttl``: True when the key was new
``exists(key) -> bool``               ``EXISTS key``

:class:`MemoryStore` is the in-process implementation (bounded; entries expire with the token).
Revocation by ``jti`` is ``store.set_if_absent("revoked:<iss>:<jti>", ttl)``; a stale authorization version is
a claim (``ver`` by default) lower than :meth:`ReplayGuard.set_min_version` for the subject.
"""

from __future__ import annotations

import heapq
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any, Protocol

from jwtobs.exceptions import TokenRejected
from jwtobs.pipeline import claim_int
from jwtobs.reasons import Reason

__all__ = ["Store", "MemoryStore", "ReplayGuard"]


class Store(Protocol):
    def set_if_absent(self, key: str, ttl: float) -> bool: ...

    def exists(self, key: str) -> bool: ...


class MemoryStore:
    """In-memory :class:`Store`: at most ``max_entries`` live keys; expired keys are dropped first.

    When full of live keys, ``set_if_absent`` raises (the Verifier then fails closed with
    JWT_VALIDATOR_ERROR) rather than forgetting a jti that could then be replayed.
    """

    def __init__(self, *, max_entries: int = 100_000, clock: Callable[[], float] = time.time) -> None:
        self.max_entries = max_entries
        self.clock = clock
        self._expiry: dict[str, float] = {}
        self._heap: list[tuple[float, str]] = []
        self._lock = threading.Lock()

    def _purge(self, now: float) -> None:
        heap, expiry = self._heap, self._expiry
        while heap and heap[0][0] <= now:
            at, key = heapq.heappop(heap)
            if expiry.get(key) == at:
                del expiry[key]

    def set_if_absent(self, key: str, ttl: float) -> bool:
        now = self.clock()
        with self._lock:
            self._purge(now)
            at = self._expiry.get(key)
            if at is not None and at > now:
                return False
            if len(self._expiry) >= self.max_entries:
                raise OverflowError("replay store full")
            self._expiry[key] = now + max(ttl, 1.0)
            heapq.heappush(self._heap, (now + max(ttl, 1.0), key))
            return True

    def exists(self, key: str) -> bool:
        now = self.clock()
        with self._lock:
            at = self._expiry.get(key)
            return at is not None and at > now

    def __len__(self) -> int:
        with self._lock:
            self._purge(self.clock())
            return len(self._expiry)


class ReplayGuard:
    """One-time use of ``jti``, revoked ``jti``s, and minimum authorization versions per subject.

    require_jti: tokens without ``jti`` are JWT_MISSING_CLAIM (when False they skip the replay check).
    one_time: reject a second presentation of the same ``jti`` (JWT_REPLAYED); turn off to only check
        revocation (access tokens are normally presented many times).
    version_claim: claim compared with :meth:`set_min_version` (JWT_REVOKED when lower).
    """

    def __init__(
        self,
        store: Store | None = None,
        *,
        require_jti: bool = True,
        one_time: bool = True,
        version_claim: str = "ver",
    ) -> None:
        self.store: Store = store if store is not None else MemoryStore()
        self.require_jti = require_jti
        self.one_time = one_time
        self.version_claim = version_claim
        self._min_version: dict[str, int] = {}

    def revoke(self, issuer: str, jti: str, *, ttl: float = 86400) -> None:
        self.store.set_if_absent(f"revoked:{issuer}:{jti}", ttl)

    def set_min_version(self, subject: str, version: int) -> None:
        self._min_version[subject] = version

    def check(self, claims: Mapping[str, Any], *, now: float) -> None:
        iss, jti, sub = claims.get("iss"), claims.get("jti"), claims.get("sub")
        if isinstance(sub, str) and sub in self._min_version:
            ver = claim_int(claims.get(self.version_claim))
            if ver is None or ver < self._min_version[sub]:
                raise TokenRejected(Reason.REVOKED, "version")
        if jti is None:
            if self.require_jti:
                raise TokenRejected(Reason.MISSING_CLAIM, "jti")
            return
        if not isinstance(jti, str) or not jti or len(jti) > 256:
            raise TokenRejected(Reason.CLAIM_INVALID, "jti")
        if self.store.exists(f"revoked:{iss}:{jti}"):
            raise TokenRejected(Reason.REVOKED, "jti")
        if self.one_time:
            exp = claim_int(claims.get("exp"))
            ttl = (exp - now) if exp is not None else 3600.0
            if not self.store.set_if_absent(f"jti:{iss}:{jti}", ttl + 300):  # + max leeway
                raise TokenRejected(Reason.REPLAYED, "jti")
