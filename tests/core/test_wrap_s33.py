"""A key set fetched by the application's own code inside a wrapped validator, the endpoint failing (session 33: a
blind fleet generator's joserfc and Authlib paths used a home-grown key cache over ``urllib``).

Before, only PyJWT's ``PyJWKClientConnectionError`` under ``library="pyjwt"`` was ``JWT_JWKS_UNAVAILABLE``; the
standard library's ``URLError``/``HTTPError``/timeouts - and PyJWT's error under another library's adapter - were
``JWT_VALIDATOR_ERROR``. Real servers on 127.0.0.1; the exception the caller sees is the library's own, unchanged."""

from __future__ import annotations

import http.server
import socket
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import jwt
import pytest

import jwtobs
from jwtobs.adapters import key_fetch_failure
from tests.core.conftest import loopback

SECRET = b"s" * 32


class _Down(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        if self.path == "/slow":
            time.sleep(0.6)
        self.send_response(503)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def server() -> Iterator[str]:
    with loopback(_Down) as url:
        yield url


def _closed_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = int(s.getsockname()[1])
    s.close()
    return port


def _token() -> str:
    return jwt.encode({"sub": "a", "exp": int(time.time()) + 60}, SECRET, algorithm="HS256", headers={"kid": "k1"})


@pytest.mark.parametrize("library", ["pyjwt", "joserfc", "authlib", "jose", "jwcrypto"])
@pytest.mark.parametrize(
    ("path", "expected", "raised"),
    [
        ("/jwks", "http_503", urllib.error.HTTPError),
        ("/slow", "timeout", TimeoutError),
        ("refused", "connection", urllib.error.URLError),
    ],
)
def test_a_key_fetch_failing_inside_a_wrapped_validator_is_unavailable(
    library: str, path: str, expected: str, raised: type[BaseException], server: str
) -> None:
    url = f"http://127.0.0.1:{_closed_port()}/jwks" if path == "refused" else server + path

    def validate(token: str) -> dict[str, Any]:
        with urllib.request.urlopen(url, timeout=0.3):
            pass
        return {}

    wrapped = jwtobs.wrap(validate, library=library)
    with pytest.raises(raised) as info:
        wrapped(_token())
    assert jwtobs.reason_of(info.value) is jwtobs.Reason.JWKS_UNAVAILABLE
    assert jwtobs.detail_of(info.value) == expected
    with pytest.raises(jwtobs.TokenRejected) as rejected:
        jwtobs.wrap(validate, library=library, raise_as="jwtobs")(_token())
    assert (rejected.value.reason, rejected.value.http_status) == (jwtobs.Reason.JWKS_UNAVAILABLE, 503)


@pytest.mark.parametrize("library", ["joserfc", "authlib"])
def test_pyjwk_client_failing_under_another_librarys_adapter(library: str) -> None:
    def validate(token: str) -> dict[str, Any]:
        raise jwt.PyJWKClientConnectionError("Fail to fetch data from the url")

    with pytest.raises(jwt.PyJWKClientConnectionError) as info:
        jwtobs.wrap(validate, library=library)(_token())
    assert jwtobs.reason_of(info.value) is jwtobs.Reason.JWKS_UNAVAILABLE


def test_other_failures_stay_validator_errors() -> None:
    for exc in (FileNotFoundError("keys.pem"), ValueError("x"), KeyError("k"), OSError("disk")):
        assert key_fetch_failure(exc) is None

    def validate(token: str) -> dict[str, Any]:
        raise FileNotFoundError("/etc/keys.pem")

    with pytest.raises(FileNotFoundError) as info:
        jwtobs.wrap(validate, library="pyjwt")(_token())
    assert jwtobs.reason_of(info.value) is jwtobs.Reason.VALIDATOR_ERROR
    assert key_fetch_failure(urllib.error.URLError(socket.gaierror(-2, "Name or service not known"))) == "dns"
