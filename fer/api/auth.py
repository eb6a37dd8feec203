"""Optional API keys: `Authorization: Bearer KEY`, checked in constant time, never logged.

The request remembers which key it came with (`request.state.owner`, a hash, never the key):
video jobs belong to it."""

from __future__ import annotations

import hmac

from fastapi import Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from fer.api.errors import ApiError
from fer.api.jobs import key_hash

bearer = HTTPBearer(auto_error=False, description="One of the keys in FER_API_KEYS (when it is set)")


def key_is_valid(given: str, keys: tuple[str, ...]) -> bool:
    """Compare against every key, without an early exit, so timing tells nothing about which
    key (or how much of one) matched."""
    given_b = given.encode()
    ok = False
    for k in keys:
        ok |= hmac.compare_digest(given_b, k.encode())
    return ok


def require_key(request: Request, credentials: HTTPAuthorizationCredentials | None) -> str:
    """The caller's owner hash ('' on a server without keys); 401 without a valid key."""
    keys = request.app.state.settings.api_keys
    owner = ""
    if keys:
        if credentials is None or credentials.scheme.lower() != "bearer" \
                or not key_is_valid(credentials.credentials, keys):
            raise ApiError(401, "a valid API key is required: send 'Authorization: Bearer <key>'",
                           {"WWW-Authenticate": "Bearer"})
        owner = key_hash(credentials.credentials)
    request.state.owner = owner
    return owner
