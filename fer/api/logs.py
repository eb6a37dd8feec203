"""What the server logs about requests: never a secret a client put in a query string.

uvicorn's access log writes each request line as sent, so a key pasted into `?api_key=` would
land in the log; this filter replaces the values of secret-looking parameters with '***'."""

from __future__ import annotations

import logging
import re
from urllib.parse import unquote_plus

# A parameter whose name contains one of these is treated as a secret.
SECRET_WORDS = ("key", "token", "secret", "password", "passwd", "auth", "credential", "signature", "session")
_PARAM = re.compile(r"([?&;])([^=&;#\s]*)=([^&;#\s]*)")


def redact_query(target: str) -> str:
    """'/v1/models?api_key=abc&x=1' -> '/v1/models?api_key=***&x=1'."""
    if "?" not in target:
        return target

    def one(m: re.Match) -> str:
        name = re.sub(r"[^a-z]", "", unquote_plus(m.group(2)).lower())
        secret = any(w in name for w in SECRET_WORDS) or name in ("sig", "pw", "pwd")
        return f"{m.group(1)}{m.group(2)}={'***' if secret and m.group(3) else m.group(3)}"

    path, _, query = target.partition("?")
    return path + _PARAM.sub(one, "?" + query)


class RedactSecrets(logging.Filter):
    """For uvicorn's access logger: its record's args are (client, method, path?query, http, status)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(redact_query(a) if isinstance(a, str) and "?" in a else a
                                for a in record.args)
        return True


def install_redaction(logger_name: str = "uvicorn.access") -> None:
    """Idempotent: called by every app at start-up, after uvicorn has configured its loggers."""
    logger = logging.getLogger(logger_name)
    if not any(isinstance(f, RedactSecrets) for f in logger.filters):
        logger.addFilter(RedactSecrets())
