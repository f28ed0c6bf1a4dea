"""Per-request plumbing as plain ASGI (cheaper than Starlette's BaseHTTPMiddleware on a hot path):
a request id and the access log line. (The JSON content-type check is the route's, after the
token and the role: see deps.GuardedRoute.)"""
from __future__ import annotations

import logging
import time

from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from . import errors
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
        status, started_response = 500, False

        async def send_with_id(message: Message) -> None:
            nonlocal status, started_response
            if message["type"] == "http.response.start":
                status, started_response = message["status"], True
                message["headers"] = [*message.get("headers", []), (b"x-request-id", rid.encode())]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except Exception as exc:  # noqa: BLE001 - the last line of defence for PHI
            # Starlette re-raises unexpected errors so the server logs them, and uvicorn would log
            # the traceback with the message, which can hold a record's values. Answer here and
            # log only the type and the request id.
            log.error("request %s failed: %s", rid, type(exc).__name__)
            if not started_response:
                response = errors.answer(Request(scope), 500, "internal error; quote the request id to the operator")
                await response(scope, receive, send_with_id)
        finally:
            route = scope.get("route")
            access_log.info("%s %s %d %.1fms %s", scope.get("method", "-"), getattr(route, "path", "-"), status,
                            (time.perf_counter() - started) * 1000, rid)
