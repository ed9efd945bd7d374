"""Package attributes imported on first use (PEP 562 ``__getattr__``), so that importing
a package does not import the providers its modules need."""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from typing import Any


def load(exports: Mapping[str, str], name: str) -> Any:
    """``name`` from the module ``exports`` lists it under; AttributeError if unlisted."""
    module = exports.get(name)
    if module is None:
        raise AttributeError(name)
    return getattr(importlib.import_module(module), name)
