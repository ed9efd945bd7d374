"""New passwords from Secrets Manager's GetRandomPassword.

Options come from arguments (local runs) or, for the Lambda, from the same environment
variables the AWS rotation templates read: ``PASSWORD_LENGTH``, ``EXCLUDE_CHARACTERS``,
``EXCLUDE_NUMBERS``, ``EXCLUDE_PUNCTUATION``, ``EXCLUDE_UPPERCASE``,
``EXCLUDE_LOWERCASE``, ``INCLUDE_SPACE``, ``REQUIRE_EACH_INCLUDED_TYPE``.
Characters left unset fall back to the engine's default exclusions.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pipeline_secrets.settings import parse_bool

# Characters each engine's passwords leave out by default. ``/ @ " ' \`` break RDS
# master passwords and naive connection strings (the AWS templates' default); space is
# excluded everywhere unless INCLUDE_SPACE is set.
DEFAULT_EXCLUDE_CHARACTERS: dict[str, str] = {
    "postgres": "/@\"'\\",
    "mysql": "/@\"'\\",
    "mariadb": "/@\"'\\",
    "redshift": "/@\"'\\",  # Redshift forbids ' " \ / @ and space
}
# (min, max) length accepted by each engine for a password.
LENGTH_LIMITS: dict[str, tuple[int, int]] = {
    "postgres": (8, 1024),
    "mysql": (8, 256),
    "mariadb": (8, 256),
    "redshift": (8, 64),  # and needs an upper case letter, a lower case letter, a digit
}

_ENV_FLAGS = {
    "exclude_numbers": "EXCLUDE_NUMBERS",
    "exclude_punctuation": "EXCLUDE_PUNCTUATION",
    "exclude_uppercase": "EXCLUDE_UPPERCASE",
    "exclude_lowercase": "EXCLUDE_LOWERCASE",
    "include_space": "INCLUDE_SPACE",
    "require_each_included_type": "REQUIRE_EACH_INCLUDED_TYPE",
}


@dataclass(frozen=True)
class PasswordOptions:
    """GetRandomPassword settings. ``exclude_characters=None`` means the engine default."""

    length: int = 32
    exclude_characters: str | None = None
    exclude_numbers: bool = False
    exclude_punctuation: bool = False
    exclude_uppercase: bool = False
    exclude_lowercase: bool = False
    include_space: bool = False
    require_each_included_type: bool = True

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> PasswordOptions:
        env = os.environ if environ is None else environ
        kwargs: dict[str, Any] = {}
        if env.get("PASSWORD_LENGTH", "").strip():
            try:
                kwargs["length"] = int(env["PASSWORD_LENGTH"])
            except ValueError:
                raise ValueError("PASSWORD_LENGTH must be a whole number") from None
        if "EXCLUDE_CHARACTERS" in env:
            kwargs["exclude_characters"] = env["EXCLUDE_CHARACTERS"]
        for name, var in _ENV_FLAGS.items():
            if env.get(var, "").strip():
                try:
                    kwargs[name] = parse_bool(env[var])
                except ValueError:
                    raise ValueError(f"{var} must be true or false") from None
        return cls(**kwargs)

    def problems(self, engine: str) -> list[str]:
        """What makes these options unusable for ``engine`` (empty when fine)."""
        low, high = LENGTH_LIMITS.get(engine, (8, 4096))
        found = []
        if not low <= self.length <= high:
            found.append(f"password length {self.length} is outside {low}-{high} for {engine}")
        if engine == "redshift" and (
            self.exclude_numbers or self.exclude_uppercase or self.exclude_lowercase
        ):
            found.append("Redshift passwords need upper case, lower case and digits")
        return found

    def request(self, engine: str) -> dict[str, Any]:
        """Keyword arguments for ``client.get_random_password``."""
        exclude = self.exclude_characters
        if exclude is None:
            exclude = DEFAULT_EXCLUDE_CHARACTERS.get(engine, DEFAULT_EXCLUDE_CHARACTERS["postgres"])
        request: dict[str, Any] = {
            "PasswordLength": self.length,
            "ExcludeNumbers": self.exclude_numbers,
            "ExcludePunctuation": self.exclude_punctuation,
            "ExcludeUppercase": self.exclude_uppercase,
            "ExcludeLowercase": self.exclude_lowercase,
            "IncludeSpace": self.include_space,
            "RequireEachIncludedType": self.require_each_included_type or engine == "redshift",
        }
        if exclude:
            request["ExcludeCharacters"] = exclude
        return request
