"""Trusted key sources: :class:`StaticKeys` and :class:`JwksSource` (a JWKS URL with bounded refresh).

The failures users report about JWKS clients are what :class:`JwksSource` is built around:

- one fetch per TTL (``Cache-Control: max-age`` honoured within ``[min_ttl, max_ttl]``), with a timeout and
  a deadline for the whole body, a size cap, and no redirects followed (so no redirect loops);
- single-flight: callers arriving while a fetch is running wait for it instead of starting another;
- an unknown kid triggers at most one forced refresh per ``cooldown``; kids still unknown after it are kept
  in a bounded negative cache, so a flood of random kids costs no fetches;
- a failed refresh keeps the last-known-good keys (up to ``max_stale`` seconds after the last success);
  JWT_JWKS_UNAVAILABLE only when no usable key set exists;
- keys are filtered (``use`` must be ``sig`` if present, known ``kty``/``alg``, RSA >= 2048 bits) and a kid
  published twice is dropped (ambiguous);
- every fetch is counted (``jwtobs.jwks.*`` instruments) and a change of kids emits a :class:`KeySetChange`.

Time comes from an injectable monotonic ``clock`` so tests advance time instead of sleeping.
"""

from __future__ import annotations

import asyncio
import json
import re
import threading
import time
import urllib.error
import urllib.request
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Final

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa

from jwtobs import config
from jwtobs.exceptions import ConfigurationError, TokenRejected
from jwtobs.reasons import Reason
from jwtobs.telemetry import (
    ATTR_ISSUER,
    ATTR_OUTCOME,
    ATTR_TRIGGER,
    ATTR_WHY,
    JWKS_FETCH_DURATION,
    JWKS_FETCHES,
    JWKS_KEYS,
    JWKS_REFRESH_SUPPRESSED,
    JWKS_STALENESS,
    UNKNOWN,
)

__all__ = ["Key", "KeySource", "StaticKeys", "JwksSource", "AsyncJwksSource", "parse_jwks", "MIN_RSA_BITS"]

MIN_RSA_BITS: Final = 2048
#: keys kept from one key set (a larger set is truncated; the kids become trusted metric labels)
MAX_KEYS: Final = 100
_MAX_KID_CHARS: Final = 256
_KTYS: Final = frozenset({"RSA", "EC", "OKP", "oct"})
_MAX_AGE_RE: Final = re.compile(r"(?:^|[,\s])max-age\s*=\s*\"?(\d{1,10})\"?", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class Key:
    """A usable verification key from a trusted source."""

    kid: str | None
    kty: str
    alg: str | None
    key: Any  # a cryptography public key, or bytes for HMAC


class KeySource:
    """Interface of a trusted key source (what :class:`jwtobs.Verifier` needs)."""

    issuer: str | None = None

    def get(self, kid: str | None) -> Key:
        """The key for ``kid``; raises :class:`TokenRejected` (JWT_UNKNOWN_KID / JWT_JWKS_UNAVAILABLE)."""
        raise NotImplementedError

    def bind_issuer(self, issuer: str) -> None:
        """Called by the Verifier: the (configured) issuer this source serves, for telemetry labels."""
        if self.issuer is None:
            self.issuer = issuer


def _key_from_jwk(jwk: Mapping[str, Any]) -> Key | None:
    """One JWK as a :class:`Key`, or ``None`` when it is not a usable signature verification key."""
    kty = jwk.get("kty")
    if kty not in _KTYS:
        return None
    use = jwk.get("use")
    if use is not None and use != "sig":
        return None
    ops = jwk.get("key_ops")
    if ops is not None and (not isinstance(ops, list) or "verify" not in ops):
        return None
    kid = jwk.get("kid")
    if kid is not None and (not isinstance(kid, str) or not kid or len(kid) > _MAX_KID_CHARS):
        return None
    alg = jwk.get("alg")
    if alg is not None and not isinstance(alg, str):
        return None
    if alg is not None and alg.strip().lower() == "none":
        return None
    try:
        pyjwk = jwt.PyJWK(dict(jwk))
    except Exception:
        return None
    key = pyjwk.key
    if kty == "RSA":
        if not isinstance(key, rsa.RSAPublicKey) or key.key_size < MIN_RSA_BITS:
            return None
    elif kty == "EC":
        if not isinstance(key, ec.EllipticCurvePublicKey):
            return None
    elif kty == "OKP":
        if not isinstance(key, (ed25519.Ed25519PublicKey, ed448.Ed448PublicKey)):
            return None
    elif not isinstance(key, bytes) or len(key) < 32:  # oct: HMAC secret of at least 256 bits
        return None
    return Key(kid, kty, alg, key)


def parse_jwks(doc: object) -> tuple[dict[str, Key], list[Key]]:
    """A JWK set document as (keys by kid, keys without kid). Raises ``ValueError`` if it is not a JWK set.

    Unusable keys are skipped; a kid that appears more than once is dropped entirely (which key it names is
    ambiguous).
    """
    if not isinstance(doc, Mapping) or not isinstance(doc.get("keys"), list):
        raise ValueError("not a JWK set")
    by_kid: dict[str, Key] = {}
    seen: set[str] = set()
    dup: set[str] = set()
    anonymous: list[Key] = []
    for jwk in doc["keys"][: MAX_KEYS * 4]:
        if not isinstance(jwk, Mapping):
            continue
        kid = jwk.get("kid")
        if isinstance(kid, str):
            if kid in seen:
                dup.add(kid)
            seen.add(kid)
        key = _key_from_jwk(jwk)
        if key is None:
            continue
        if key.kid is None:
            anonymous.append(key)
        elif len(by_kid) < MAX_KEYS:
            by_kid[key.kid] = key
    for kid in dup:
        by_kid.pop(kid, None)
    return by_kid, anonymous[:MAX_KEYS]


def _select(by_kid: Mapping[str, Key], anonymous: list[Key], kid: str | None) -> Key | None:
    if kid is not None:
        return by_kid.get(kid)
    # no kid in the token: only unambiguous when the source holds exactly one key
    if len(by_kid) + len(anonymous) == 1:
        return anonymous[0] if anonymous else next(iter(by_kid.values()))
    return None


class StaticKeys(KeySource):
    """Keys fixed at construction: a JWK set dict, one JWK dict, ``{kid: key}``, or a list of key objects."""

    def __init__(self, keys: object, *, issuer: str | None = None) -> None:
        self.issuer = issuer
        self._by_kid: dict[str, Key]
        self._anonymous: list[Key]
        if isinstance(keys, Mapping) and "keys" in keys:
            self._by_kid, self._anonymous = parse_jwks(keys)
        elif isinstance(keys, Mapping) and "kty" in keys:
            self._by_kid, self._anonymous = parse_jwks({"keys": [keys]})
        elif isinstance(keys, Mapping):
            self._by_kid = {str(k): _key_from_object(str(k), v) for k, v in keys.items()}
            self._anonymous = []
        elif isinstance(keys, Iterable) and not isinstance(keys, (str, bytes)):
            self._by_kid, self._anonymous = {}, [_key_from_object(None, v) for v in keys]
        else:
            self._by_kid, self._anonymous = {}, [_key_from_object(None, keys)]
        if not self._by_kid and not self._anonymous:
            raise ConfigurationError("StaticKeys: no usable key")
        config.current().guard.trust_kids(self._by_kid)

    def get(self, kid: str | None) -> Key:
        key = _select(self._by_kid, self._anonymous, kid)
        if key is None:
            raise TokenRejected(Reason.UNKNOWN_KID, "no_kid" if kid is None else None)
        return key

    @property
    def kids(self) -> frozenset[str]:
        return frozenset(self._by_kid)


def _key_from_object(kid: str | None, obj: object) -> Key:
    if isinstance(obj, Key):
        return obj
    if isinstance(obj, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey):
        obj = obj.public_key()
    if isinstance(obj, rsa.RSAPublicKey):
        if obj.key_size < MIN_RSA_BITS:
            raise ConfigurationError(f"StaticKeys: RSA key shorter than {MIN_RSA_BITS} bits")
        return Key(kid, "RSA", None, obj)
    if isinstance(obj, ec.EllipticCurvePublicKey):
        return Key(kid, "EC", None, obj)
    if isinstance(obj, (ed25519.Ed25519PublicKey, ed448.Ed448PublicKey)):
        return Key(kid, "OKP", None, obj)
    if isinstance(obj, (bytes, str)):
        secret = obj.encode() if isinstance(obj, str) else obj
        if len(secret) < 32:
            raise ConfigurationError("StaticKeys: HMAC secret shorter than 32 bytes")
        return Key(kid, "oct", None, secret)
    raise ConfigurationError(f"StaticKeys: unsupported key object {type(obj).__name__}")


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """Redirects are not followed: a JWKS URL is configuration; a redirect is a fetch failure."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


class _FetchError(Exception):
    def __init__(self, why: str) -> None:
        super().__init__(why)
        self.why = why


class JwksSource(KeySource):
    """Keys from a JWKS URL, cached, refreshed with the bounds described in the module docstring.

    url: the JWKS endpoint (``https://``; ``http://`` only for loopback addresses).
    issuer: the issuer this key set belongs to (telemetry label; the Verifier sets it from its profile).
    timeout: seconds for the whole fetch (connect + body).
    cooldown: minimum seconds between two unknown-kid refreshes, and between retries after a failure.
    min_ttl, max_ttl: bounds applied to ``Cache-Control: max-age`` (``default_ttl`` when absent).
    max_stale: seconds after the last successful fetch during which the last-known-good keys are still used
        when refreshes fail.
    max_bytes: larger responses are a fetch failure.
    negative_cache_size: distinct unknown kids remembered (per cooldown window).
    clock: monotonic time source (tests inject a fake one).
    """

    def __init__(
        self,
        url: str,
        *,
        issuer: str | None = None,
        timeout: float = 3.0,
        cooldown: float = 30.0,
        min_ttl: float = 60,
        max_ttl: float = 86400,
        default_ttl: float = 300,
        max_stale: float = 86400,
        max_bytes: int = 512 * 1024,
        negative_cache_size: int = 1024,
        clock: Callable[[], float] = time.monotonic,
        proxies: Mapping[str, str] | None = None,
    ) -> None:
        if not isinstance(url, str) or not (url.startswith("https://") or _loopback_http(url)):
            raise ConfigurationError("JwksSource url must be https:// (http:// only for loopback)")
        if not (0 < timeout and 0 <= cooldown and 0 < min_ttl <= max_ttl and max_stale >= 0 and max_bytes > 0):
            raise ConfigurationError("JwksSource: inconsistent timeout/cooldown/ttl/max_stale/max_bytes")
        self.url = url
        self.issuer = issuer
        self.timeout = float(timeout)
        self.cooldown = float(cooldown)
        self.min_ttl, self.max_ttl = float(min_ttl), float(max_ttl)
        self.default_ttl = min(max(float(default_ttl), self.min_ttl), self.max_ttl)
        self.max_stale = float(max_stale)
        self.max_bytes = int(max_bytes)
        self.negative_cache_size = int(negative_cache_size)
        self.clock = clock
        handlers: list[Any] = [_NoRedirect()]
        if proxies is not None:
            handlers.append(urllib.request.ProxyHandler(dict(proxies)))
        self._opener = urllib.request.build_opener(*handlers)
        self._by_kid: dict[str, Key] | None = None
        self._anonymous: list[Key] = []
        self._fetched_at = 0.0  # clock time of the last successful fetch
        self._next_refresh = 0.0  # clock time at which the cache expires (or a failed fetch may be retried)
        self._last_forced = float("-inf")  # clock time of the last unknown-kid refresh
        self._negative: OrderedDict[str, float] = OrderedDict()
        self._evicted: set[str] = set()
        self._generation = 0  # fetch attempts completed
        self._fetch_lock = threading.Lock()
        self._state_lock = threading.Lock()
        #: counters kept on the object too (tests, diagnostics)
        self.fetch_count = 0
        self.failure_count = 0
        self.last_error: str | None = None

    # -- public -------------------------------------------------------------------------------------------
    def get(self, kid: str | None) -> Key:
        now = self.clock()
        if self._by_kid is None or now >= self._next_refresh:
            self._refresh("startup" if self._by_kid is None else "ttl", self._generation)
            now = self.clock()
        by_kid = self._usable(now)
        if by_kid is None:
            raise TokenRejected(Reason.JWKS_UNAVAILABLE, self.last_error or "no_keys")
        key = _select(by_kid, self._anonymous, kid)
        if key is not None:
            return key
        if kid is None:
            raise TokenRejected(Reason.UNKNOWN_KID, "no_kid")
        if len(kid) > _MAX_KID_CHARS:  # no published kid is this long (parse_jwks drops them): never refresh
            self._suppressed("negative_cache")
            raise TokenRejected(Reason.UNKNOWN_KID, None)
        # unknown kid: at most one forced refresh per cooldown, bounded negative cache
        with self._state_lock:
            seen = self._negative.get(kid)
            if seen is not None and now - seen < self.cooldown:
                self._suppressed("negative_cache")
                raise TokenRejected(Reason.UNKNOWN_KID, None)
            allowed = now - self._last_forced >= self.cooldown
            gen = self._generation
        if not allowed:
            self._remember_unknown(kid, now)
            self._suppressed("cooldown")
            raise TokenRejected(Reason.UNKNOWN_KID, None)
        self._refresh("unknown_kid", gen, forced=True)
        by_kid = self._usable(self.clock())
        if by_kid is not None:
            key = _select(by_kid, self._anonymous, kid)
            if key is not None:
                return key
        self._remember_unknown(kid, now)
        raise TokenRejected(Reason.UNKNOWN_KID, None)

    def needs_io(self, kid: str | None) -> bool:
        """Whether :meth:`get` for ``kid`` may fetch (or wait for a fetch) right now; False means it answers
        from memory. Used by the asyncio variant to keep cached lookups on the event loop."""
        now = self.clock()
        by_kid = self._by_kid
        if by_kid is None or now >= self._next_refresh or self._fetch_lock.locked():
            return True
        if kid is None or kid in by_kid:
            return False
        seen = self._negative.get(kid)
        if seen is not None and now - seen < self.cooldown:
            return False
        return now - self._last_forced >= self.cooldown

    def refresh(self) -> bool:
        """Fetch now (trigger ``manual``), whatever the TTL. True when the fetch succeeded."""
        gen = self._generation
        self._refresh("manual", gen)
        return self.last_error is None

    def evict(self, kid: str) -> None:
        """Emergency key removal: ``kid`` is no longer used, even if the endpoint still publishes it."""
        removed: tuple[str, ...] = ()
        with self._state_lock:
            self._evicted.add(kid)
            if self._by_kid is not None and kid in self._by_kid:
                by_kid = dict(self._by_kid)
                del by_kid[kid]
                self._by_kid = by_kid
                removed = (kid,)
        if removed:
            self._changed((), removed)

    @property
    def kids(self) -> frozenset[str]:
        return frozenset(self._by_kid or ())

    @property
    def negative_cache_len(self) -> int:
        return len(self._negative)

    # -- internals ----------------------------------------------------------------------------------------
    def _usable(self, now: float) -> dict[str, Key] | None:
        by_kid = self._by_kid
        if by_kid is None:
            return None
        if now - self._fetched_at > self.max_stale:
            return None
        return by_kid

    def _remember_unknown(self, kid: str, now: float) -> None:
        with self._state_lock:
            neg = self._negative
            neg[kid] = now
            neg.move_to_end(kid)
            while len(neg) > self.negative_cache_size:
                neg.popitem(last=False)

    def _label(self) -> str:
        return self.issuer if self.issuer is not None else UNKNOWN

    def _suppressed(self, why: str) -> None:
        try:
            config.current().telemetry.count(JWKS_REFRESH_SUPPRESSED, ((ATTR_ISSUER, self._label()), (ATTR_WHY, why)))
        except Exception:  # pragma: no cover - telemetry never breaks a request
            pass

    def _refresh(self, trigger: str, gen: int, *, forced: bool = False) -> None:
        """Fetch unless another caller completed a fetch since ``gen`` was read (single-flight)."""
        if not self._fetch_lock.acquire(timeout=self.timeout + 1.0):
            self._suppressed("inflight")  # a fetch is running beyond its deadline: use what we have
            return
        try:
            if self._generation != gen:
                self._suppressed("inflight")
                return
            now = self.clock()
            if forced:
                self._last_forced = now
            self._fetch(trigger, now)
            self._generation += 1
        finally:
            self._fetch_lock.release()

    def _fetch(self, trigger: str, now: float) -> None:
        st = config.current()
        start = time.monotonic()
        outcome = "success"
        try:
            body, max_age = self._download()
            try:
                doc = json.loads(body)
            except (ValueError, RecursionError, UnicodeDecodeError):
                raise _FetchError("invalid_json") from None
            try:
                by_kid, anonymous = parse_jwks(doc)
            except ValueError:
                raise _FetchError("invalid_jwks") from None
            if not by_kid and not anonymous:
                raise _FetchError("no_keys")
        except _FetchError as exc:
            outcome = "error"
            self.failure_count += 1
            self.last_error = exc.why
            # retry after the cooldown, not on every request (the last-known-good keys stay in force)
            self._next_refresh = now + max(self.cooldown, 1.0)
            added: tuple[str, ...] = ()
            removed: tuple[str, ...] = ()
        else:
            ttl = self.default_ttl if max_age is None else min(max(float(max_age), self.min_ttl), self.max_ttl)
            with self._state_lock:
                for kid in self._evicted:
                    by_kid.pop(kid, None)
                old = self._by_kid
                self._by_kid, self._anonymous = by_kid, anonymous
                self._fetched_at = now
                self._next_refresh = now + ttl
                for kid in by_kid:
                    self._negative.pop(kid, None)
            self.last_error = None
            before = set(old or ())
            added = tuple(sorted(set(by_kid) - before))
            removed = tuple(sorted(before - set(by_kid)))
        finally:
            self.fetch_count += 1
            self._observe_fetch(st, trigger, outcome, time.monotonic() - start)
        if outcome == "success":
            # every success, not only changes: a configure() since the last fetch brought a new guard
            st.guard.trust_kids(self._by_kid or ())
        if added or removed:
            self._changed(added, removed)

    def _observe_fetch(self, st: config.State, trigger: str, outcome: str, seconds: float) -> None:
        try:
            label = self._label()
            tel = st.telemetry
            tel.count(JWKS_FETCHES, ((ATTR_ISSUER, label), (ATTR_OUTCOME, outcome), (ATTR_TRIGGER, trigger)))
            inst = tel.instruments()
            if inst is not None:
                inst[JWKS_FETCH_DURATION].record(seconds, {ATTR_ISSUER: label, ATTR_OUTCOME: outcome})
            attrs = ((ATTR_ISSUER, label),)
            tel.set_gauge(JWKS_KEYS, attrs, float(len(self._by_kid or ())))
            clock = self.clock
            tel.set_gauge(JWKS_STALENESS, attrs, lambda: clock() - self._fetched_at if self._by_kid else None)
        except Exception:  # pragma: no cover - telemetry never breaks a request
            pass

    def _changed(self, added: tuple[str, ...], removed: tuple[str, ...]) -> None:
        from jwtobs.pipeline import emit_keyset_change

        emit_keyset_change(issuer=self.issuer, added=added, removed=removed, keys=len(self._by_kid or ()))

    def _download(self) -> tuple[bytes, int | None]:
        deadline = time.monotonic() + self.timeout
        req = urllib.request.Request(self.url, headers={"Accept": "application/json, application/jwk-set+json"})
        try:
            with self._opener.open(req, timeout=self.timeout) as resp:
                status = getattr(resp, "status", 200)
                if status != 200:
                    raise _FetchError(f"http_{status}")
                declared = resp.headers.get("Content-Length")
                if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
                    raise _FetchError("too_large")
                chunks: list[bytes] = []
                size = 0
                while True:
                    if time.monotonic() > deadline:
                        raise _FetchError("timeout")
                    # read1: whatever has arrived (a trickling server cannot hold one read past the deadline)
                    chunk = resp.read1(min(65536, self.max_bytes + 1 - size))
                    if not chunk:
                        break
                    chunks.append(chunk)
                    size += len(chunk)
                    if size > self.max_bytes:
                        raise _FetchError("too_large")
                cache_control = resp.headers.get("Cache-Control") or ""
        except _FetchError:
            raise
        except urllib.error.HTTPError as exc:
            code = exc.code
            raise _FetchError("redirect" if 300 <= code < 400 else f"http_{code}") from None
        except TimeoutError:
            raise _FetchError("timeout") from None
        except (urllib.error.URLError, OSError, ValueError) as exc:
            reason = getattr(exc, "reason", None)
            raise _FetchError("timeout" if isinstance(reason, TimeoutError) else "connection") from None
        m = _MAX_AGE_RE.search(cache_control)
        if "no-store" in cache_control.lower() or "no-cache" in cache_control.lower():
            max_age: int | None = 0
        else:
            max_age = int(m.group(1)) if m else None
        return b"".join(chunks), max_age


def _loopback_http(url: str) -> bool:
    return url.startswith(("http://127.0.0.1", "http://localhost", "http://[::1]"))


class AsyncJwksSource(JwksSource):
    """The asyncio variant: the same policy core (TTL, cooldown, single-flight, last-known-good) as
    :class:`JwksSource`; lookups answered from memory stay on the event loop, and a lookup that has to fetch
    runs in a worker thread so the loop is never blocked (single-flight holds across threads and tasks).
    Use with :meth:`jwtobs.Verifier.averify`.
    """

    async def aget(self, kid: str | None) -> Key:
        if self.needs_io(kid):
            return await asyncio.to_thread(self.get, kid)
        return self.get(kid)
