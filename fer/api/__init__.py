"""The HTTP API (`python -m fer serve`): FastAPI routes over the same recognizer, schema and video
analysis as the command line. Needs the `api` extra (fastapi, uvicorn, python-multipart)."""

from fer.api.app import create_app
from fer.api.settings import ApiSettings

__all__ = ["ApiSettings", "create_app"]
