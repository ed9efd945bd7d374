"""Removing secret values from text and exceptions before they reach users or logs."""

from __future__ import annotations

import re
from collections.abc import Iterable
from urllib.parse import quote, quote_plus

REDACTED = "***"
# user:password@ in URIs, password=... in DSNs and JDBC property strings.
_URI_PASSWORD = re.compile(r"(?P<pre>[a-zA-Z][a-zA-Z0-9+.\-]*://[^:/@\s]*:)(?P<pw>[^@\s]+)(?=@)")
_KV_PASSWORD = re.compile(
    r"(?P<pre>\b(?:password|passwd|pwd)\s*[=:]\s*)(?!(?:YES|NO)\))"
    r"(?P<q>['\"]?)(?P<pw>[^'\"\s;&,)]+)(?P=q)",
    re.IGNORECASE,
)
# libpq (psycopg2, psycopg 3) quotes the part of a DSN it could not read, which may
# be (part of) the password: 'missing "=" after "<fragment>" in connection info string',
# 'invalid percent-encoded token: "<password>"', 'unexpected spaces found in "<part>"'.
_LIBPQ_QUOTED = re.compile(
    r'(?P<pre>(?:missing "=" after|invalid percent-encoded token:|unexpected spaces found in'
    r"|invalid integer value|invalid value for parameter|invalid sslmode value:)\s*)"
    r'"(?P<v>[^"\n]*)"',
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
    text = _LIBPQ_QUOTED.sub(lambda m: m.group("pre") + '"' + REDACTED + '"', text)
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


def ensure_clean(exc: BaseException, secrets: Iterable[str] = ()) -> BaseException:
    """``exc`` itself when its message shows nothing secret, else a sanitized copy.

    For re-raising driver errors that are not authentication failures (a database
    that is down, a malformed DSN): most are left untouched so callers can still
    catch the driver's own class; one that quotes a password or a DSN fragment is
    replaced (raise it ``from None``).
    """
    try:
        text = str(exc)
    except Exception:
        return sanitized(exc, secrets)
    if redact(text, secrets) == text:
        return exc
    return sanitized(exc, secrets)
