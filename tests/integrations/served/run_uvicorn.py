"""``uvicorn.run(app, log_config=...)`` after the app's module has run, as a script starts it:
``python -m tests.integrations.served.run_uvicorn PORT user|docs``.

``user``: a logging config of the usual shape (a root handler, uvicorn's access logger on it), which replaces the
handlers that existed when the app's module called ``redact.install()``. ``docs``: the same with the
``LoggingRedactor`` declared in the config itself, as docs/integrations.md shows.
"""

from __future__ import annotations

import sys
from typing import Any

import uvicorn

from tests.integrations.served.asgi import app

HANDLER = {"class": "logging.StreamHandler", "formatter": "plain", "stream": "ext://sys.stderr"}


def log_config(with_filter: bool) -> dict[str, Any]:
    handler = {**HANDLER, "filters": ["redact"]} if with_filter else HANDLER
    config: dict[str, Any] = {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"plain": {"format": "%(levelname)s %(name)s %(message)s"}},
        "handlers": {"console": handler},
        "root": {"handlers": ["console"], "level": "INFO"},
        "loggers": {
            "uvicorn.access": {"handlers": ["console"], "propagate": False, "level": "INFO"},
            "uvicorn.error": {"level": "INFO"},
        },
    }
    if with_filter:
        config["filters"] = {"redact": {"()": "jwtobs.redact.LoggingRedactor"}}
    return config


if __name__ == "__main__":
    uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_config=log_config(sys.argv[2] == "docs"))
