"""Server-side clock faults on the independent timelines of :mod:`timelines`: a clock that many clients share
goes wrong for a while, labelled ``server_clock_skew``.

A client's clock that is off makes that client fail; these make every client fail at once:

* ``issuer_ahead``: the issuer's clock runs ``skew`` s ahead. Tokens it mints meanwhile carry ``iat``/``nbf``
  (and ``exp``) that far in the future, so validators reject them as not yet valid (``JWT_NOT_YET_VALID``)
  for their first ``skew`` s (less the leeway); the clients read ``exp`` from the token and keep it.
* ``replica_ahead``: one validator replica's clock runs ``skew`` s ahead: it rejects tokens as expired in
  the last ``skew`` s of their life (less the client's refresh margin and the leeway), and stamps its events
  with its own clock (as a real replica's sink does).
* ``replica_behind``: one replica's clock runs ``skew`` s behind: freshly minted tokens are not yet valid
  there for their first ``skew`` s (the "token is not yet valid (iat)" of an API host whose NTP stopped).

Everything else - the fleet, its background, the other incident kinds - is :mod:`timelines`' own; a fault is
an :class:`timelines.Injected` of kind ``server_clock_skew`` whose ``scope`` names the variant. Label counts and
times are those of the rejections the fault caused, on the clock that stamped their events.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
import timelines
from timelines import Injected, Timeline, _Gen, _Label, _Tok

__all__ = ["VARIANTS", "generate", "FaultGen"]

KIND = "server_clock_skew"
VARIANTS = ("issuer_ahead", "replica_ahead", "replica_behind")


class FaultGen(_Gen):
    """:class:`timelines._Gen` with server clock faults (``Injected(KIND, ..., scope=variant)``)."""

    def __init__(self, tl: Timeline) -> None:
        super().__init__(tl)
        # (label, "issuer" / "replica", issuer name / replica index, start, end, offset in s)
        self.faults: list[tuple[int, str, Any, float, float, float]] = []
        #: fingerprints of the tokens minted on a faulty issuer clock -> the fault's label
        self.stamped: dict[str, int] = {}
        self._real = 0.0  # real time while a replica validates on its own clock

    def inject(self, inj: Injected) -> None:
        if inj.kind != KIND:
            super().inject(inj)
            return
        if inj.scope not in VARIANTS:
            raise ValueError(f"{KIND}: scope must be one of {VARIANTS}, not {inj.scope!r}")
        lab = _Label(KIND)
        li = len(self.labels)
        self.labels.append(lab)
        end = self.t + inj.duration
        if inj.scope == "issuer_ahead":
            iss = self.rng.choice(self.issuers)
            lab.issuer = iss.name
            self.faults.append((li, "issuer", iss.name, self.t, end, inj.skew))
        else:
            sign = 1.0 if inj.scope == "replica_ahead" else -1.0
            self.faults.append((li, "replica", self.rng.randrange(self.tl.replicas), self.t, end, sign * inj.skew))

    def _replica(self, r: int) -> tuple[float, int | None]:
        """(offset of replica ``r``'s clock now, the label of the fault setting it)."""
        for li, what, who, t0, t1, off in self.faults:
            if what == "replica" and who == r and t0 <= self.t < t1:
                return off, li
        return 0.0, None

    def _stamp(self, tok: _Tok) -> int | None:
        """A token the issuer mints now (``iat`` is now) gets the issuer's clock; the fault's label, if any."""
        for li, what, who, t0, t1, off in self.faults:
            if what == "issuer" and who == tok.iss and t0 <= self.t < t1:
                tok.iat += off
                tok.exp += off
                return li
        return None

    def validate(
        self, r: int, tok: _Tok | None, profile: str, client: str | None, **kw: Any
    ) -> tuple[str | None, int | None]:
        if tok is not None and tok.iat == self.t:
            stamped = self._stamp(tok)
            if stamped is not None:
                self.stamped[tok.fp] = stamped
        off, li = self._replica(r)
        real = self._real = self.t
        self.t = real + off  # the replica validates with its own clock
        try:
            reason, cause = super().validate(r, tok, profile, client, **kw)
            if tok is None:
                return reason, cause
            if reason is None and tok.iat > self.t + self.leeway:
                reason = "JWT_NOT_YET_VALID"
                cause = self.stamped.get(tok.fp, li)
            elif reason == "JWT_EXPIRED" and li is not None and real < tok.exp + self.leeway:
                cause = li  # expired on this replica's clock only
            if cause is not None and self.labels[cause].kind == KIND:
                self.labels[cause].hit(self.t)  # on the clock that stamps the event
                return reason, None
            return reason, cause
        finally:
            self.t = real

    def keys(self, r: int, iss: Any, kid: str | None) -> tuple[dict[str, bool] | None, str | None]:
        """The replica's key set: its cache ages on its own clock, the issuer's outages and blips happen in
        real time."""
        if self.t == self._real:
            return super().keys(r, iss, kid)
        shifted, down = self.t, iss.blip_until
        iss.blip_until = down + (shifted - self._real)
        try:
            return super().keys(r, iss, kid)
        finally:
            iss.blip_until = down

    def emit(self, r: int, tok: _Tok | None, profile: str, client: str | None, reason: str | None, **kw: Any) -> None:
        off, _li = self._replica(r)
        real = self.t
        self.t = real + off  # the replica's sink stamps its events with its clock
        try:
            super().emit(r, tok, profile, client, reason, **kw)
        finally:
            self.t = real


def generate(tl: Timeline) -> tuple[pd.DataFrame, pd.DataFrame, list[dict[str, Any]]]:
    """(events, key-set changes, labels) as :func:`timelines.generate` returns them, with :class:`FaultGen`."""
    return timelines.generate(tl, FaultGen)
