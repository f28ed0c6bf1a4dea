"""Per-request plumbing as plain ASGI (cheaper than Starlette's BaseHTTPMiddleware on a hot path):
a request id and the access log line. (The JSON content-type check is the route's, after the
token and the role: see deps.GuardedRoute.)"""
from __future__ import annotations

import json
import logging
import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .deps import new_request_id

access_log = logging.getLogger("api.access")
log = logging.getLogger("api")


class RequestContext:
    """Gives each request an id (a sane ``X-Request-ID`` from the caller, else a new one), echoes
    it, and logs method, route template, status, time and id:
    never the path or query, which can carry identifiers."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope.get("headers") or []}
        rid = new_request_id(headers.get("x-request-id"))
        scope.setdefault("state", {})["request_id"] = rid
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], (b"x-request-id", rid.encode())]
            await send(message)

        started_response = False

        async def tracked(message: Message) -> None:
            nonlocal started_response
            if message["type"] == "http.response.start":
                started_response = True
            await send_with_id(message)

        try:
            await self.app(scope, receive, tracked)
        except Exception as exc:  # noqa: BLE001 - the last line of defence for PHI
            # Starlette re-raises unexpected errors so the server logs them, and uvicorn would log
            # the traceback with the message, which can hold a record's values. Answer here and
            # log only the type and the request id.
            log.error("request %s failed: %s", rid, type(exc).__name__)
            if not started_response:
                body = json.dumps({"type": "about:blank", "title": "Internal error", "status": 500,
                                   "detail": "internal error; quote the request id to the operator",
                                   "request_id": rid}).encode()
                await send_with_id({"type": "http.response.start", "status": 500,
                                    "headers": [(b"content-type", b"application/problem+json"),
                                                (b"content-length", str(len(body)).encode())]})
                await send_with_id({"type": "http.response.body", "body": body})
        finally:
            route = scope.get("route")
            access_log.info("%s %s %d %.1fms %s", scope.get("method", "-"), getattr(route, "path", "-"), status,
                            (time.perf_counter() - started) * 1000, rid)
