"""What a token holder may read through the agent: an allow-list of secret-id prefixes,
and AWSPENDING / explicit version ids only when enabled. A refused lookup makes no API
call (checked before the cache is consulted).

The agent's IAM role should carry the same scope (see docs/deploy.md): the allow-list
stops a local caller from reaching outside it; the role stops the agent itself.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from pipeline_secrets.model import AWSCURRENT

AWSPREVIOUS = "AWSPREVIOUS"
AWSPENDING = "AWSPENDING"


@dataclass(frozen=True)
class SecretScope:
    allowed_prefixes: tuple[str, ...] = ()
    allow_any: bool = False  # explicit opt-out (``--allow-any-secret``)
    allow_pending: bool = False  # AWSPENDING, other custom stages and version ids

    @classmethod
    def create(
        cls,
        allowed_prefixes: Sequence[str],
        *,
        default_prefixes: Sequence[str] = (),
        allow_any: bool = False,
        allow_pending: bool = False,
    ) -> SecretScope:
        prefixes = tuple(p for p in allowed_prefixes if p) or tuple(
            p for p in default_prefixes if p
        )
        if not prefixes and not allow_any:
            raise ValueError(
                "the agent needs a scope: --allow-prefix PREFIX (repeatable; default: the "
                "--prefetch-prefix values), or --allow-any-secret to serve every secret "
                "its role can read"
            )
        return cls(prefixes, allow_any, allow_pending)

    def refusal(
        self, secret_id: str, version_stage: str | None, version_id: str | None
    ) -> str | None:
        """Why this lookup is refused (a short reason for logs and metrics), or None."""
        if version_id is not None and not self.allow_pending:
            return "version_id"
        if version_stage not in (None, AWSCURRENT, AWSPREVIOUS) and not self.allow_pending:
            return "version_stage"
        if self.allow_any:
            return None
        if secret_id.startswith("arn:") and not any(
            p.startswith("arn:") for p in self.allowed_prefixes
        ):
            return "arn"
        if not secret_id.startswith(self.allowed_prefixes):
            return "prefix"
        if ".." in secret_id.split("/"):
            return "prefix"
        return None
