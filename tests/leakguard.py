"""Knows every secret value the tests seed and finds them in text."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import quote, quote_plus

_SECRET_KEYS = {"password", "pass", "passwd", "key", "token", "secret", "api_key"}


class LeakGuard:
    def __init__(self) -> None:
        self._values: set[str] = set()
        self._lock = threading.Lock()

    def register(self, value: str) -> None:
        if not value or len(value) < 6:
            return  # too short to search for without false alarms
        with self._lock:
            self._values.update({value, quote(value, safe=""), quote_plus(value)})

    def register_secret_document(self, document: Any) -> None:
        """Register the password-like fields of a secret (a dict or its JSON text)."""
        if isinstance(document, bytes):
            return
        if isinstance(document, str):
            try:
                document = json.loads(document)
            except ValueError:
                return
        if isinstance(document, Mapping):
            for key, value in document.items():
                if key.lower() in _SECRET_KEYS and isinstance(value, str):
                    self.register(value)

    def find(self, text: str) -> list[str]:
        with self._lock:
            values = list(self._values)
        return [v for v in values if v in text]

    def assert_clean(self, texts: Mapping[str, str] | Iterable[tuple[str, str]]) -> None:
        items = texts.items() if isinstance(texts, Mapping) else texts
        for where, text in items:
            found = self.find(text or "")
            if found:
                raise AssertionError(
                    f"a seeded secret value appeared in {where} "
                    f"({len(found)} value(s); first at offset {text.find(found[0])})"
                )
