"""Django configured in-process and served by its own runserver classes (WSGIServer + WSGIRequestHandler,
which log to ``django.server``) on 127.0.0.1 in a thread."""

from __future__ import annotations

from typing import Any

import django
from django.conf import settings
from django.core.signals import setting_changed

from tests.integrations.django_project import auth
from tests.integrations.django_project.settings import SETTINGS
from tests.integrations.harness import Authenticators, Stack, WsgiThread, wsgi_server_span


def setup() -> None:
    if not settings.configured:
        settings.configure(**SETTINGS)
        django.setup()


def serve(a: Authenticators, stack: Stack) -> WsgiThread:
    from django.core.handlers.wsgi import WSGIHandler
    from django.core.servers.basehttp import WSGIRequestHandler, WSGIServer

    setup()
    auth.MAIN = a.main
    auth.AUTHS.update(down=a.down, wrapped=a.wrapped)
    # the public way a settings change reaches jwtobs (what override_settings sends): rebuild the authenticator
    setting_changed.send(sender=None, setting="JWTOBS", value=settings.JWTOBS, enter=True)
    server = WSGIServer(("127.0.0.1", 0), WSGIRequestHandler, allow_reuse_address=True)
    server.daemon_threads = True
    app: Any = wsgi_server_span(WSGIHandler(), lambda: stack.tracer)
    server.set_app(app)
    return WsgiThread(server)
