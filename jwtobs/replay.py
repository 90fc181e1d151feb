"""Replay and revocation hook for :class:`jwtobs.Verifier` (``Verifier(..., replay=checker)``).

The checker runs after every other check passed, so only tokens that would be accepted touch its state (a
forged token never fills it). Interface (:class:`ReplayChecker`): ``check(claims, *, now)`` returns or raises
:class:`~jwtobs.exceptions.TokenRejected` with JWT_REPLAYED / JWT_REVOKED.

:class:`InMemoryReplayChecker` keeps its state in process. A shared store has the same three operations, shaped
after Redis so a Redis client drops in:

``SET jti:<iss>:<jti> 1 NX EXAT <exp + leeway>``   one-time use: a reply of nil means JWT_REPLAYED
``EXISTS revoked:<jti>``                           revoked jti: JWT_REVOKED
``GET authz:<sub>``                                minimum authorization version of the subject: a token whose
                                                   version claim is lower (or missing) is JWT_REVOKED
"""

from __future__ import annotations

import heapq
from collections.abc import Mapping
from typing import Any, Protocol, runtime_checkable

from jwtobs import _forksafe
from jwtobs.exceptions import TokenRejected
from jwtobs.pipeline import claim_int
from jwtobs.reasons import Reason

__all__ = ["ReplayChecker", "InMemoryReplayChecker"]

#: seconds a one-time jti is remembered past its exp (covers the maximum profile leeway)
_EXP_MARGIN = 300


@runtime_checkable
class ReplayChecker(Protocol):
    """The optional state hook of a :class:`jwtobs.Verifier`."""

    def check(self, claims: Mapping[str, Any], *, now: float) -> None:
        """Return if the token may be used, else raise TokenRejected (JWT_REPLAYED / JWT_REVOKED)."""
        ...


class InMemoryReplayChecker:
    """One-time ``jti``, revoked ``jti``s and per-subject authorization versions, in process memory.

    one_time: a ``jti`` is accepted once (until its ``exp``); a token without ``jti`` cannot be proven
        fresh and is JWT_REPLAYED.
    authz_version_claim: claim compared with :meth:`set_authz_version` (lower or missing: JWT_REVOKED).
    max_entries: bound on remembered jtis; expired ones are dropped first, then those expiring soonest.
    """

    def __init__(
        self, *, one_time: bool = False, authz_version_claim: str | None = None, max_entries: int = 100_000
    ) -> None:
        if max_entries <= 0:
            raise ValueError("max_entries must be positive")
        self.one_time = one_time
        self.authz_version_claim = authz_version_claim
        self.max_entries = max_entries
        #: (issuer, jti) -> time until which it is remembered
        self.memory: dict[tuple[str, str], float] = {}
        self._heap: list[tuple[float, tuple[str, str]]] = []
        self._revoked: set[str] = set()
        self._versions: dict[str, int] = {}
        self._lock = _forksafe.Lock()

    def revoke(self, jti: str) -> None:
        with self._lock:
            self._revoked.add(jti)

    def set_authz_version(self, subject: str, version: int) -> None:
        with self._lock:
            self._versions[subject] = version

    def check(self, claims: Mapping[str, Any], *, now: float) -> None:
        jti = claims.get("jti")
        if isinstance(jti, str) and jti in self._revoked:
            raise TokenRejected(Reason.REVOKED, "jti")
        sub = claims.get("sub")
        if self.authz_version_claim is not None and isinstance(sub, str):
            minimum = self._versions.get(sub)
            if minimum is not None:
                ver = claim_int(claims.get(self.authz_version_claim))
                if ver is None or ver < minimum:
                    raise TokenRejected(Reason.REVOKED, "authz_version")
        if not self.one_time:
            return
        if not isinstance(jti, str) or not jti:
            raise TokenRejected(Reason.REPLAYED, "no_jti")
        iss = claims.get("iss")
        key = (iss if isinstance(iss, str) else "", jti[:256])
        exp = claim_int(claims.get("exp"))
        until = float(exp if exp is not None else now + 3600) + _EXP_MARGIN
        with self._lock:
            seen = self.memory.get(key)
            if seen is not None and seen > now:
                raise TokenRejected(Reason.REPLAYED, "jti")
            self._make_room(now)
            self.memory[key] = until
            heapq.heappush(self._heap, (until, key))

    def _make_room(self, now: float) -> None:
        heap, memory = self._heap, self.memory
        while heap and (heap[0][0] <= now or len(memory) >= self.max_entries):
            until, key = heapq.heappop(heap)
            if memory.get(key) == until:
                del memory[key]
