"""One JSON error shape for every failure, with the right status and never a traceback.

    {"error": {"status": 415, "code": "unsupported_media_type", "message": "..."}}
"""

from __future__ import annotations

import logging
from http import HTTPStatus

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect

from fer.imageio import ImageError

log = logging.getLogger(__name__)


class ApiError(Exception):
    """An expected failure: a status, a message the client can act on, optional headers."""

    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers or {}


def error_response(status: int, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    code = HTTPStatus(status).phrase.lower().replace(" ", "_").replace("-", "_")
    return JSONResponse({"error": {"status": status, "code": code, "message": message}}, status, headers)


def image_error_status(error: ImageError) -> int:
    """The HTTP status for an image that could not be used, from its kind (never its wording)."""
    return {ImageError.NOT_AN_IMAGE: 415, ImageError.TOO_LARGE: 413}.get(error.kind, 400)


def install_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError):
        return error_response(exc.status, exc.message, exc.headers)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException):
        return error_response(exc.status_code, str(exc.detail), getattr(exc, "headers", None))

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError):
        parts = []
        for e in exc.errors():
            where = ".".join(str(x) for x in e.get("loc", ()) if x not in ("query", "path", "body"))
            parts.append(f"{where}: {e.get('msg', 'invalid')}" if where else e.get("msg", "invalid"))
        return error_response(400, "; ".join(parts) or "invalid request")

    @app.exception_handler(ClientDisconnect)
    async def _gone(request: Request, exc: ClientDisconnect):
        # The client left mid-upload: routine on the internet, one line, no traceback. Nobody
        # reads the answer; the route's own clean-up has deleted what it stored.
        client = f"{request.client.host}:{request.client.port}" if request.client else "a client"
        log.warning("%s disconnected during %s %s", client, request.method, request.url.path)
        return error_response(400, "the client disconnected before the request body was complete")

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception):
        log.error("unexpected error on %s %s: %s", request.method, request.url.path, exc, exc_info=exc)
        return error_response(500, "internal error; the server log has the details")
