"""Knows every secret value the tests seed and finds them in text.

The autouse fixture in ``tests/conftest.py`` checks, for every test: captured logs,
stdout and stderr, every exception the test caught with ``pytest.raises`` (message,
repr and chained causes) and the exception/report of a failing test.
:meth:`LeakGuard.assert_files_clean` does the same for files written by child
processes (Airflow task logs, Spark driver output).
"""

from __future__ import annotations

import json
import os
import threading
import traceback
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
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

    def assert_exception_clean(self, exc: BaseException, where: str = "an exception") -> None:
        """Fail if the exception's message, repr or any chained cause shows a value."""
        self.assert_clean({where: exception_text(exc)})

    def assert_files_clean(self, *paths: str | os.PathLike[str]) -> int:
        """Scan files, or every file under directories, for seeded values.

        For the end-to-end tests: Airflow task logs, Spark driver/executor output.
        Returns how many files were scanned (so a test can assert it saw some).
        """
        scanned = 0
        for path in _walk(paths):
            text = path.read_bytes().decode("utf-8", errors="replace")
            self.assert_clean({f"file {path}": text})
            scanned += 1
        return scanned


def _walk(paths: Iterable[str | os.PathLike[str]]) -> Iterator[Path]:
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            yield from (p for p in sorted(path.rglob("*")) if p.is_file())
        elif path.is_file():
            yield path


def exception_text(exc: BaseException) -> str:
    """Everything a user could see of an exception: the formatted chain plus reprs."""
    parts = ["".join(traceback.format_exception(exc))]
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        try:
            parts.append(repr(current))
            parts.append(repr(current.args))
        except Exception as err:  # a broken __repr__ is not our concern here
            parts.append(f"<repr failed: {type(err).__name__}>")
        current = current.__cause__ or (
            None if current.__suppress_context__ else current.__context__
        )
    return "\n".join(parts)


GUARD = LeakGuard()
"""The one registry of the test session (the hooks and fixtures share it)."""
