"""CLI tests read stderr: keep werkzeug's request log (moto's server threads) out of it.

werkzeug adds a StreamHandler bound to whatever ``sys.stderr`` was when it first logged
(a capture buffer pytest later closes), which then prints "Logging error" tracebacks
into the stderr of later tests.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest


@pytest.fixture(autouse=True)
def _quiet_werkzeug() -> Iterator[None]:
    logger = logging.getLogger("werkzeug")
    saved = list(logger.handlers)
    for handler in saved:
        logger.removeHandler(handler)
    logger.addHandler(logging.NullHandler())
    yield
