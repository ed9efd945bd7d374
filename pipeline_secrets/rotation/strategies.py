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
from pipeline_secrets.rotation.target import DbTarget

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


def pending_problem(
    current: Mapping[str, Any], pending: Mapping[str, Any], cur: DbTarget, pend: DbTarget
) -> str | None:
    """Why a pending value may not be rotated in after ``current`` (None when it may).

    The pending value must name the same engine, host, port and database, the same
    ``masterarn``, and the user the strategy expects: the same user (single) or exactly
    the alternate of the current one (``<user>`` <-> ``<user>_clone``). Checked on a
    reused AWSPENDING value at createSecret and again at setSecret, because anyone who
    may PutSecretValue can write one."""
    field = cur.same_database_problem(pend)
    if field:
        return f"the pending value names another {field} than the current one"
    if (current.get("masterarn") or None) != (pending.get("masterarn") or None):
        return "the pending value names another masterarn than the current one"
    if strategy_of(current) == ALTERNATING:
        if pend.username != other_username(cur.username):
            return (
                "the pending user is not the alternate of the current user "
                "(alternating users take turns between <user> and <user>_clone)"
            )
    elif pend.username != cur.username:
        return "the pending value names another user than the current one"
    return None
