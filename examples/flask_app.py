"""Flask with jwtobs: ``python examples/flask_app.py [--port 8001]`` serves on 127.0.0.1 and prints curl
commands with a demo token minted at startup. Validation events are logged to stderr (``log_events``)."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _demo_keys import DemoIssuer, usage
from flask import Flask, g

import jwtobs
from jwtobs.integrations import BearerAuth, tenant_from_path
from jwtobs.integrations.flask import JwtAuth


def build(issuer: DemoIssuer) -> Flask:
    app = Flask("jwtobs_flask_example")
    jwt = JwtAuth(app, auth=BearerAuth(issuer.verifier().verify, realm="demo"))  # the one line

    @app.get("/items")
    @jwt.required(scopes=["items:read"])
    def items() -> Any:
        return {"items": ["a", "b"], "principal": g.principal.as_dict()}

    @app.get("/admin")
    @jwt.required(scopes=["items:write"])
    def admin() -> Any:
        return {"admin": True}

    @app.get("/tenants/<tenant>/items")
    @jwt.required(scopes=["items:read"], tenant=tenant_from_path("tenant"))
    def tenant_items(tenant: str) -> Any:
        return {"tenant": tenant, "items": ["t1"]}

    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=8001)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO)
    jwtobs.configure(log_events=True, service="flask-example")
    issuer = DemoIssuer()
    print(usage(f"http://127.0.0.1:{args.port}", issuer), flush=True)
    build(issuer).run(host="127.0.0.1", port=args.port)


if __name__ == "__main__":
    main()
