"""Secrets never reach logs, errors or traces: ``register_secret`` remembers one, ``redact`` masks it
(and any ``api_key=``/``api_token=`` query value) in any text; a logging filter applies it to every record."""
from __future__ import annotations

import logging
import re

REDACTED = "***"

_secrets: set[str] = set()
_SECRET_PARAMS = re.compile(r"((?:api_key|api_token|access_token)=)[^&\s\"']+", re.I)


def register_secret(value: str | None) -> None:
    """Remember a secret so ``redact`` masks it anywhere (logs, errors, traces)."""
    if value and len(value) >= 4:
        _secrets.add(value)
        _install_log_filter()


def redact(text: object) -> str:
    text = _SECRET_PARAMS.sub(rf"\1{REDACTED}", str(text))
    for secret in _secrets:
        text = text.replace(secret, REDACTED)
    return text


class _RedactingFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        clean = redact(message)
        if clean != message:
            record.msg, record.args = clean, ()
        return True


_filter = _RedactingFilter()


def _install_log_filter() -> None:
    # urllib3 logs full request lines (with query strings) at DEBUG; dlt logs exceptions.
    for name in ("", "urllib3", "urllib3.connectionpool", "dlt", "crm_elt"):
        logger = logging.getLogger(name)
        if _filter not in logger.filters:
            logger.addFilter(_filter)
        for handler in logger.handlers:
            if _filter not in handler.filters:
                handler.addFilter(_filter)
