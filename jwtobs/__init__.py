"""jwtobs: observable JWT validation and token-free logs.

>>> import jwt, jwtobs
>>> decode = jwtobs.wrap(jwt.decode)            # same return value, same exceptions
>>> jwtobs.reason_of(exc)                        # -> Reason.EXPIRED, ...
"""

from __future__ import annotations

from jwtobs.binding import Binding
from jwtobs.config import configure, flush
from jwtobs.events import JsonlSink, LoggerSink, ValidationEvent
from jwtobs.exceptions import ConfigurationError, JwtobsError, TokenRejected, detail_of, reason_of
from jwtobs.jwks import AsyncJwksSource, JwksSource, StaticKeys
from jwtobs.profile import Profile, ProfileSet
from jwtobs.reasons import Reason
from jwtobs.verifier import VerifiedToken, Verifier, VerifierSet
from jwtobs.version import __version__
from jwtobs.wrap import wrap

__all__ = [
    "__version__",
    "configure",
    "flush",
    "wrap",
    "reason_of",
    "detail_of",
    "Reason",
    "TokenRejected",
    "ConfigurationError",
    "JwtobsError",
    "ValidationEvent",
    "JsonlSink",
    "LoggerSink",
    "Profile",
    "ProfileSet",
    "Verifier",
    "VerifierSet",
    "VerifiedToken",
    "Binding",
    "JwksSource",
    "AsyncJwksSource",
    "StaticKeys",
]
