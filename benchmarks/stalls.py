"""A stalled issuer on the independent timelines of :mod:`timelines`: the issuer's token endpoint (not its key
set) is down for a while, labelled ``issuer_stalled``.

Nothing is wrong with any clock or key. A device whose token is due for renewal cannot get a new one:

* with a token in hand it goes on with it (the usual client-library fallback when a refresh fails), past
  ``exp``: the validators reject it as expired, at the device's own pace, and it keeps it after the 401
  because the refresh keeps failing; a share of the clients (:data:`GIVE_UP`) stop calling on their first
  such 401 until the endpoint is back (a batch job aborting its run, an app showing an error);
* without one (a worker restarted, a device that never had one) it makes no call.

The issuer's key set stays up, so validators keep verifying its signatures; the other issuers are untouched.
Everything else - the fleet, its background, the other incident kinds - is :mod:`timelines`' own. The label
counts the expired-token rejections of tokens a device held because its renewal failed (first and last such
rejection).
"""

from __future__ import annotations

from typing import Any

import pandas as pd
import timelines
from timelines import Injected, Timeline, _Gen, _Label, _Tok

__all__ = ["KIND", "GIVE_UP", "generate", "StallGen"]

KIND = "issuer_stalled"
#: the share of clients that stop calling on their first 401 while they cannot renew
GIVE_UP = 0.3


class StallGen(_Gen):
    """:class:`timelines._Gen` with token-endpoint outages (``Injected(KIND, at, duration)``)."""

    def __init__(self, tl: Timeline) -> None:
        super().__init__(tl)
        self.stalls: list[tuple[int, str, float, float]] = []  # (label, issuer name, start, end)
        self.held: dict[str, int] = {}  # fingerprints of tokens kept because renewal failed -> the stall's label
        self.quitters: set[str] = set()  # clients that stopped calling until the endpoint is back
        self.decided: set[tuple[str, int]] = set()  # (client, stall) whose first 401 was seen

    def inject(self, inj: Injected) -> None:
        if inj.kind != KIND:
            super().inject(inj)
            return
        iss = self.rng.choice(self.issuers)
        lab = _Label(KIND, issuer=iss.name)
        self.labels.append(lab)
        self.stalls.append((len(self.labels) - 1, iss.name, self.t, self.t + inj.duration))

    def _stalled(self, iss: str) -> int | None:
        for li, name, t0, t1 in self.stalls:
            if name == iss and t0 <= self.t < t1:
                return li
        return None

    def renew(self, c: dict[str, Any], dev: dict[str, Any]) -> _Tok | None:
        li = self._stalled(c["iss"].name)
        if li is None:
            self.quitters.discard(c["id"])
            return super().renew(c, dev)
        if dev["tok"] is not None:
            self.held[dev["tok"].fp] = li
        return None

    def request(
        self, c: dict[str, Any], dev: dict[str, Any], kind: str = "normal", arg_tok: _Tok | None = None
    ) -> None:
        if c["id"] in self.quitters and self._stalled(c["iss"].name) is not None:
            return
        super().request(c, dev, kind, arg_tok)

    def validate(
        self, r: int, tok: _Tok | None, profile: str, client: str | None, **kw: Any
    ) -> tuple[str | None, int | None]:
        reason, cause = super().validate(r, tok, profile, client, **kw)
        if reason == "JWT_EXPIRED" and cause is None and tok is not None and tok.fp in self.held:
            li = self.held[tok.fp]
            if client is not None and (client, li) not in self.decided:
                self.decided.add((client, li))
                if self.rng.random() < GIVE_UP:
                    self.quitters.add(client)
            return reason, li
        return reason, cause


def generate(tl: Timeline) -> tuple[pd.DataFrame, pd.DataFrame, list[dict[str, Any]]]:
    """(events, key-set changes, labels) as :func:`timelines.generate` returns them, with :class:`StallGen`."""
    return timelines.generate(tl, StallGen)
