"""Django's exception report without tokens (``DEFAULT_EXCEPTION_REPORTER``); imported lazily by
:mod:`jwtobs.integrations.django` (``django.views.debug`` loads the template engine)."""

from __future__ import annotations

from typing import Any

from django.views.debug import ExceptionReporter

__all__ = ["RedactingExceptionReporter"]


def _scrubbed(text: Any) -> Any:
    from jwtobs.redact import FAILED, scrub

    if not isinstance(text, str):
        return text
    try:
        return scrub(text)
    except Exception:  # (scrub never raises; never let the report through unscrubbed if it did)
        return FAILED


class RedactingExceptionReporter(ExceptionReporter):  # type: ignore[misc]
    """Django's ``ExceptionReporter`` whose page and text are scrubbed by :func:`jwtobs.redact.scrub`.

    Django's report (the DEBUG technical 500 page, and the mail of ``AdminEmailHandler``) shows the exception
    message, every frame's variables, the GET parameters and META as they are (``SafeExceptionReporterFilter``
    hides only settings and META names with API, AUTH, TOKEN, KEY, SECRET, PASS, SIGNATURE, and the cookie
    header): a token in the query string, in a variable or in the message was in both. Set::

        DEFAULT_EXCEPTION_REPORTER = "jwtobs.integrations.django.RedactingExceptionReporter"
    """

    def get_traceback_html(self) -> Any:
        return _scrubbed(super().get_traceback_html())

    def get_traceback_text(self) -> Any:
        return _scrubbed(super().get_traceback_text())
