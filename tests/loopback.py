"""What the tests' loopback HTTP servers share (the misbehaving ones in tests/jwks/server.py write raw bytes)."""

from __future__ import annotations

from http.server import BaseHTTPRequestHandler


def reply(handler: BaseHTTPRequestHandler, status: int, body: bytes, content_type: str) -> None:
    """One complete response: status, Content-Type, Content-Length and the body."""
    handler.send_response(status)
    handler.send_header("Content-Type", content_type)
    handler.send_header("Content-Length", str(len(body)))
    handler.end_headers()
    handler.wfile.write(body)
