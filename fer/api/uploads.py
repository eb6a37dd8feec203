"""Getting a file out of a request: a multipart form's file part, or the raw body.

A stored upload gets a name the server chose (`UPLOAD_NAME`): the client's name and suffix are
only shown back, never used, so no suffix can steer a decoder (a '.m3u8' made FFmpeg read a
playlist). A multipart file part over 1 MB is first spooled by Starlette to an unnamed file in
TMPDIR, which is gone once the form is closed (at the end of `save_to` / `read_bytes`)."""

from __future__ import annotations

import shutil
from pathlib import Path

import anyio.to_thread
from fastapi import Request
from starlette.datastructures import UploadFile

from fer.api.errors import ApiError

# What /docs shows for the request body of an upload route.
UPLOAD_BODY = {"requestBody": {"required": True, "content": {
    "multipart/form-data": {"schema": {"type": "object", "required": ["file"],
                                       "properties": {"file": {"type": "string", "format": "binary"}}}},
    "application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}}}


def _is_form(request: Request) -> bool:
    return request.headers.get("content-type", "").lower().startswith("multipart/form-data")


async def _file_part(request: Request):
    form = await request.form(max_files=1, max_fields=16)
    upload = next((v for v in form.values() if isinstance(v, UploadFile)), None)
    if upload is None:
        await form.close()
        raise ApiError(400, "the multipart form has no file part; send the file as the field 'file'")
    return form, upload


def _empty(what: str) -> ApiError:
    return ApiError(400, f"the request has no {what}: send it as multipart field 'file' or as the raw body")


async def read_bytes(request: Request, what: str = "image") -> tuple[str, bytes]:
    """(file name, content) of an upload held in memory; images are small and bounded by BodyLimit."""
    if _is_form(request):
        form, upload = await _file_part(request)
        try:
            data, name = await upload.read(), upload.filename or "upload"
        finally:
            await form.close()
    else:
        data, name = await request.body(), request.query_params.get("filename") or "upload"
    if not data:
        raise _empty(what)
    return name, data


# The stored upload's name; distinctive, because messages about it are rewritten to the client's.
UPLOAD_NAME = "input.video"


async def save_to(request: Request, folder: Path, filename: str = UPLOAD_NAME) -> tuple[str, Path]:
    """Stream an upload to `folder/filename` without holding it in memory; returns the client's
    name for it (for messages) and the path."""
    path = folder / filename
    if _is_form(request):
        form, upload = await _file_part(request)
        try:
            name = upload.filename or "upload"
            with path.open("wb") as out:
                await anyio.to_thread.run_sync(shutil.copyfileobj, upload.file, out, 1 << 20)
        finally:
            await form.close()
    else:
        name = request.query_params.get("filename") or "upload"
        with path.open("wb") as out:
            async for chunk in request.stream():
                out.write(chunk)
    if path.stat().st_size == 0:
        raise _empty("video")
    return name, path
