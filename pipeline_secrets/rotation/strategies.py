"""Single user vs alternating users: which one a secret uses, and the clone's name.

* Single user: the user changes its own password. Between setSecret and finishSecret
  the database wants the AWSPENDING password while AWSCURRENT still holds the old one.
* Alternating users (the secret has ``masterarn``): the master secret's user creates or
  updates ``<user>_clone`` (privileges copied from ``<user>``); each rotation switches
  to the other user and gives it a new password. The user of AWSPREVIOUS keeps working
  until the next rotation.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pipeline_secrets.rotation.engines import RotationEngine

SINGLE = "single"
ALTERNATING = "alternating"
CLONE_SUFFIX = "_clone"


def strategy_of(secret: Mapping[str, Any]) -> str:
    return ALTERNATING if secret.get("masterarn") else SINGLE


def other_username(username: str) -> str:
    """``app`` <-> ``app_clone``."""
    if username.endswith(CLONE_SUFFIX):
        return username[: -len(CLONE_SUFFIX)]
    return username + CLONE_SUFFIX


def clone_name_problem(username: str, engine: RotationEngine) -> str | None:
    """Why ``username`` cannot alternate on ``engine`` (None when it can)."""
    other = other_username(username)
    if len(other.encode("utf-8")) > engine.max_username_length:
        return (
            f"the alternate user name would be longer than {engine.max_username_length} "
            f"bytes, the {engine.name} limit"
        )
    return None
