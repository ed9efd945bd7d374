"""Typed values fetched from Secrets Manager."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pipeline_secrets.errors import SecretError, SecretFormatError

AWSCURRENT = "AWSCURRENT"
AWSPENDING = "AWSPENDING"
AWSPREVIOUS = "AWSPREVIOUS"


@dataclass(frozen=True)
class SecretRef:
    """Which version of which secret a lookup asks for: AWSCURRENT unless
    ``version_stage`` or ``version_id`` says otherwise."""

    secret_id: str
    version_stage: str | None = None
    version_id: str | None = None

    @classmethod
    def of(cls, ref: SecretRef | str) -> SecretRef:
        """``ref`` itself, or the current version of the secret named ``ref``."""
        return ref if isinstance(ref, SecretRef) else cls(ref)


@dataclass(frozen=True, repr=False, eq=False)
class SecretValue:
    """One version of one secret. Its repr and str never show the value."""

    secret_id: str
    name: str
    arn: str
    version_id: str
    version_stages: tuple[str, ...]
    secret_string: str | None = None
    secret_binary: bytes | None = None
    created_date: datetime | None = None

    def __repr__(self) -> str:
        kind = "binary" if self.secret_binary is not None else "string"
        return (
            f"SecretValue(name={self.name!r}, version_id={self.version_id!r}, "
            f"stages={list(self.version_stages)!r}, kind={kind}, value=***)"
        )

    __str__ = __repr__

    @property
    def is_binary(self) -> bool:
        return self.secret_string is None and self.secret_binary is not None

    def text(self) -> str:
        """The value as text: SecretString, or SecretBinary decoded as UTF-8."""
        if self.secret_string is not None:
            return self.secret_string
        if self.secret_binary is None:
            raise SecretFormatError(self.name, None, "the version holds no value")
        try:
            return self.secret_binary.decode("utf-8")
        except UnicodeDecodeError as exc:
            # Not chained: a UnicodeDecodeError's repr holds the whole byte string.
            raise SecretFormatError(
                self.name, None, f"SecretBinary is not UTF-8 text (byte {exc.start})"
            ) from None

    def json(self) -> dict[str, Any]:
        """The value parsed as a JSON object."""
        return parse_json_object(self.text(), self.name)


def parse_json_object(text: str, secret_id: str | None) -> dict[str, Any]:
    """Parse ``text`` as a JSON object, raising a value-free SecretFormatError."""
    try:
        parsed = json.loads(text)
    except (ValueError, RecursionError) as exc:
        # json's message quotes a slice of the document: do not chain its text.
        position = getattr(exc, "pos", None)
        where = f" at character {position}" if position is not None else ""
        raise SecretFormatError(secret_id, None, f"not valid JSON{where}") from None
    if not isinstance(parsed, dict):
        raise SecretFormatError(
            secret_id, None, f"expected a JSON object, got {type(parsed).__name__}"
        )
    return parsed


@dataclass(frozen=True)
class BatchResult:
    """What one BatchGetSecretValue pass returned: values and per-secret errors."""

    values: Mapping[str, SecretValue] = field(default_factory=dict)
    errors: Mapping[str, SecretError] = field(default_factory=dict)
