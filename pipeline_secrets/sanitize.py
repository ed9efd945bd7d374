"""Removing secret values from text and exceptions before they reach users or logs."""

from __future__ import annotations

import re
from collections.abc import Iterable
from urllib.parse import quote, quote_plus

REDACTED = "***"
# user:password@ in URIs, password=... in DSNs and JDBC property strings.
_URI_PASSWORD = re.compile(r"(?P<pre>[a-zA-Z][a-zA-Z0-9+.\-]*://[^:/@\s]*:)(?P<pw>[^@\s]+)(?=@)")
_KV_PASSWORD = re.compile(
    r"(?P<pre>\b(?:password|passwd|pwd)\s*[=:]\s*)(?P<q>['\"]?)(?P<pw>[^'\"\s;&,)]+)(?P=q)",
    re.IGNORECASE,
)


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """``text`` with every given secret value (raw and URL-encoded) and every
    password-looking DSN part replaced by ``***``."""
    for value in sorted({s for s in secrets if s}, key=len, reverse=True):
        if len(value) < 4:
            continue  # too short to redact without mangling ordinary words
        for form in {value, quote(value, safe=""), quote_plus(value)}:
            text = text.replace(form, REDACTED)
    text = _URI_PASSWORD.sub(lambda m: m.group("pre") + REDACTED, text)
    return _KV_PASSWORD.sub(lambda m: m.group("pre") + m.group("q") + REDACTED + m.group("q"), text)


class SanitizedDatabaseError(Exception):
    """A driver error whose message was redacted. ``original_type`` names the driver's class.

    The original is not chained (its message may hold the password); its
    classification is kept in ``kind``.
    """

    def __init__(self, message: str, original_type: str, kind: str) -> None:
        super().__init__(message)
        self.original_type = original_type
        self.kind = kind


def sanitized(exc: BaseException, secrets: Iterable[str] = ()) -> SanitizedDatabaseError:
    from pipeline_secrets.classify import classify_failure

    kind = classify_failure(exc).value
    name = f"{type(exc).__module__}.{type(exc).__qualname__}"
    return SanitizedDatabaseError(f"{name}: {redact(str(exc), secrets)}", name, kind)
