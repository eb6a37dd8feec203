"""STUN/TURN servers for the live view's WebRTC connection: from Streamlit secrets or the
environment, and none by default, so localhost works offline on host candidates."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping

ICE_ENV = "FER_ICE_SERVERS"  # JSON: a list of RTCIceServer dicts, or {"iceServers": [...]}


def ice_servers(secrets: Mapping | None, environ: Mapping[str, str]) -> list[dict]:
    """Secrets (`ice_servers = [...]` or `[rtc_configuration] iceServers`) win over FER_ICE_SERVERS."""
    raw = None
    if secrets is not None:
        try:
            raw = secrets.get("ice_servers") or (secrets.get("rtc_configuration") or {}).get("iceServers")
        except FileNotFoundError:  # no secrets.toml: Streamlit raises rather than returning None
            raw = None
    if raw is None and environ.get(ICE_ENV):
        try:
            raw = json.loads(environ[ICE_ENV])
        except json.JSONDecodeError as e:
            raise ValueError(f"{ICE_ENV} is not valid JSON: {e}") from e
    if isinstance(raw, Mapping):
        raw = raw.get("iceServers", [])
    return [dict(s) for s in (raw or [])]


def rtc_configuration(secrets: Mapping | None = None, environ: Mapping[str, str] | None = None) -> dict:
    return {"iceServers": ice_servers(secrets, os.environ if environ is None else environ)}
