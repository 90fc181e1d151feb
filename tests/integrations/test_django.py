"""Django (plain middleware) and DRF served by Django's own server classes on 127.0.0.1, driven by real HTTP
requests with real tokens."""

from __future__ import annotations

import pytest

from tests.integrations.harness import Authenticators, Keys, Stack, check_span_parents, run_matrix

pytest.importorskip("rest_framework")


@pytest.mark.parametrize("prefix", ["", "/drf"], ids=["django", "drf"])
def test_matrix(prefix: str, keys: Keys, stack: Stack, auths: Authenticators) -> None:
    from tests.integrations.django_server import serve

    with serve(auths, stack) as server:
        failures = run_matrix(server.base, stack, keys, prefix=prefix)
    assert failures == []
    assert check_span_parents(stack) == []


@pytest.mark.parametrize("reporter", ["django.views.debug.ExceptionReporter", "jwtobs"])
def test_exception_reports_hold_no_token(reporter: str, keys: Keys, auths: Authenticators) -> None:
    """Django's exception report: the DEBUG technical 500 page (the response) and what AdminEmailHandler mails
    (``DEFAULT_EXCEPTION_REPORTER`` both). It shows the exception message, frame variables and the request's GET
    parameters and META (QUERY_STRING) as they are: its filter hides only names with API, AUTH, TOKEN, KEY...
    ``RedactingExceptionReporter`` scrubs the rendered page and text (session 21; before: the token in each)."""
    import sys

    from django.test import RequestFactory
    from django.utils.module_loading import import_string

    from tests.integrations.django_project import auth
    from tests.integrations.django_server import setup

    setup()
    auth.MAIN = auths.main  # (the report imports the URLconf, whose views need them)
    auth.AUTHS.update(down=auths.down, wrapped=auths.wrapped)
    token = keys.token()
    cookie = "sid=s3ss10n-" + "9f8e" * 8
    request = RequestFactory().get(f"/items?access_token={token}", HTTP_AUTHORIZATION=f"Bearer {token}",
                                   HTTP_COOKIE=cookie, HTTP_X_FORWARDED_TOKEN=token)  # fmt: skip

    def backend_call(credential: str) -> None:
        upstream = {"authorization": f"Bearer {credential}"}  # a frame variable holding the token
        raise RuntimeError(f"upstream refused {upstream['authorization'][:20]}... {credential}")

    try:
        backend_call(token)
    except RuntimeError:
        exc_info = sys.exc_info()
    cls = import_string(reporter if "." in reporter else "jwtobs.integrations.django.RedactingExceptionReporter")
    report = cls(request, *exc_info, is_email=False)
    html, text = report.get_traceback_html(), report.get_traceback_text()
    payload, signature = token.split(".")[1:]
    leaked = [where for where, body in (("html", html), ("text", text)) if payload in body or signature in body]
    if reporter == "jwtobs":
        assert leaked == []
        assert "[REDACTED:jwt:" in html and "[REDACTED:jwt:" in text
        assert "backend_call" in html and "RuntimeError" in text  # still the report it was
    else:
        assert leaked == ["html", "text"]  # what Django's own reporter shows
