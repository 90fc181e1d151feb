from __future__ import annotations

import logging
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

app_log = logging.getLogger("app")


class LogHeaders:
    """What careless apps do: log every request header (Authorization and Cookie included)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        app_log.info("request %s %s headers=%s", request.method, request.path, dict(request.headers))
        return self.get_response(request)
