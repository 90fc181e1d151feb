"""FastAPI app for uvicorn, hypercorn and gunicorn's uvicorn worker."""

import os
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Request

from jwtobs.integrations import Principal
from jwtobs.integrations.fastapi import JwtobsLifespan, jwt_auth
from tests.integrations import served

header_auth, query_auth = served.setup()
read = jwt_auth(header_auth)
query_read = jwt_auth(query_auth)
app = FastAPI()
if not os.environ.get("SERVED_NO_LIFESPAN"):
    # redaction again once the server configured logging; the events written at shutdown (uvicorn's SIGTERM: no atexit)
    app.add_middleware(JwtobsLifespan)


@app.api_route("/items", methods=["GET", "POST"])
async def items(p: Annotated[Principal, Depends(read)]) -> dict[str, Any]:
    return {"sub": p.subject}


@app.get("/q/items")
async def q_items(p: Annotated[Principal, Depends(query_read)]) -> dict[str, Any]:
    return {"sub": p.subject}


@app.get("/public")
async def public() -> dict[str, Any]:
    return {"ok": True}


@app.get("/boom")
async def boom(request: Request, p: Annotated[Principal, Depends(read)]) -> dict[str, Any]:
    served.boom(dict(request.headers))
    return {}
