"""Django + DRF with jwtobs: ``python examples/django_app/run.py [--port 8002]`` serves on 127.0.0.1 with
Django's own server classes and prints curl commands with a demo token minted at startup (also try /drf/...)."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent)]


def setup() -> None:
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "demo_settings")
    django.setup()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=8002)
    args = parser.parse_args()
    setup()
    import demo_auth
    from _demo_keys import usage
    from django.core.handlers.wsgi import WSGIHandler
    from django.core.servers.basehttp import run

    import jwtobs

    jwtobs.configure(log_events=True, service="django-example")
    print(usage(f"http://127.0.0.1:{args.port}", demo_auth.ISSUER), flush=True)
    run("127.0.0.1", args.port, WSGIHandler(), threading=True)


if __name__ == "__main__":
    main()
