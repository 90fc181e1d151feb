"""Apps that real servers load by import path (uvicorn, hypercorn, gunicorn, Werkzeug's and Django's servers,
waitress), in their own processes, as users deploy them: ``tests/integrations/test_real_servers.py``.

Set up as the docs tell users: logging configured first (``logging.basicConfig``, to stderr), then
``jwtobs.redact.install()``; jwtobs configured with an event file. The test process passes the public key and
the event file's path in ``SERVED_PUBKEY`` and ``SERVED_EVENTS``. Every route answers the verified ``sub`` so
the test can check that no request sees another's principal.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from cryptography.hazmat.primitives.serialization import load_pem_public_key

import jwtobs
from jwtobs import redact
from jwtobs.integrations import BearerAuth, exit_on_sigterm

ISS = "https://issuer.test"
AUD = "api://items"
REALM = "served"
FP_KEY = "served-tests-fingerprint-key-0123456789abcdef"
FP_KEY_ID = "sv"

app_log = logging.getLogger("app")


def setup() -> tuple[BearerAuth, BearerAuth]:
    """Logging, redaction and jwtobs as the docs say; the header-only and the query-allowed authenticators."""
    if not os.environ.get("SERVED_NO_LOGGING"):  # (the probe of an app that configures no logging)
        logging.basicConfig(level=logging.INFO, format="%(name)s %(levelname)s %(message)s")
        redact.install()
    jwtobs.configure(
        events_path=os.environ["SERVED_EVENTS"],
        service="served",
        fingerprint_key=FP_KEY,
        fingerprint_key_id=FP_KEY_ID,
        issuers=[ISS],
        from_env=False,
    )
    if os.environ.get("SERVED_EXIT_ON_SIGTERM"):
        exit_on_sigterm()
    public = load_pem_public_key(Path(os.environ["SERVED_PUBKEY"]).read_bytes())
    profile = jwtobs.Profile(name="items", issuer=ISS, audience=AUD)
    verifier = jwtobs.Verifier(profile, keys=jwtobs.StaticKeys({"k1": public}), backend="pyjwt")
    return BearerAuth(verifier.verify, realm=REALM), BearerAuth(verifier.verify, realm=REALM, allow_query=True)


def boom(headers: dict[str, str]) -> None:
    """What careless code does: log the request's headers, then fail with the credential in the message."""
    app_log.info("calling the backend with headers=%s", headers)
    raise RuntimeError(f"backend refused {headers.get('authorization') or headers.get('Authorization')}")
