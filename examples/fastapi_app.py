"""FastAPI with jwtobs: ``python examples/fastapi_app.py [--port 8000]`` serves on 127.0.0.1 and prints curl
commands with a demo token minted at startup. Validation events are logged to stderr (``log_events``)."""

import argparse
import logging
import sys
from pathlib import Path
from typing import Annotated, Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _demo_keys import DemoIssuer, usage
from fastapi import Depends, FastAPI

import jwtobs
from jwtobs.integrations import BearerAuth, Principal, tenant_from_path
from jwtobs.integrations.fastapi import JwtobsLifespan, jwt_auth


# no "from __future__ import annotations" here: FastAPI reads the Annotated dependencies at definition time
def build(issuer: DemoIssuer) -> FastAPI:
    auth = BearerAuth(issuer.verifier().verify, realm="demo")  # the one line: RFC 6750 responses, events
    read = jwt_auth(auth, scopes=["items:read"])
    write = jwt_auth(auth, scopes=["items:write"])
    per_tenant = jwt_auth(auth, scopes=["items:read"], tenant=tenant_from_path("tenant"))
    app = FastAPI(title="jwtobs FastAPI example")
    # at shutdown, write the events still buffered (uvicorn ends on SIGTERM without running atexit); at startup,
    # install log redaction on the handlers uvicorn.run configured after this module
    app.add_middleware(JwtobsLifespan)

    @app.get("/items")
    async def items(p: Annotated[Principal, Depends(read)]) -> dict[str, Any]:
        return {"items": ["a", "b"], "principal": p.as_dict()}

    @app.get("/admin")
    async def admin(p: Annotated[Principal, Depends(write)]) -> dict[str, Any]:
        return {"admin": True}

    @app.get("/tenants/{tenant}/items")
    async def tenant_items(tenant: str, p: Annotated[Principal, Depends(per_tenant)]) -> dict[str, Any]:
        return {"tenant": tenant, "items": ["t1"]}

    return app


def main() -> None:
    import uvicorn

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=8000)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO)
    jwtobs.configure(log_events=True, service="fastapi-example")
    issuer = DemoIssuer()
    print(usage(f"http://127.0.0.1:{args.port}", issuer), flush=True)
    uvicorn.run(build(issuer), host="127.0.0.1", port=args.port)


if __name__ == "__main__":
    main()
