"""Test-only stand-in for the rotation functions: the four steps against moto + a database.

``start`` runs createSecret (new version staged AWSPENDING) and setSecret (the database
gets the new password); ``finish`` runs finishSecret (AWSCURRENT moves to the new
version, AWSPENDING is removed from it). Between the two is the single-user window:
the database wants the new password while AWSCURRENT still holds the old one.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

SetPassword = Callable[[str, str], None]  # (username, new password)


@dataclass
class Rotation:
    client: Any = field(repr=False)
    secret_id: str
    token: str
    old_version: str


def start(client: Any, secret_id: str, new_password: str, set_password: SetPassword) -> Rotation:
    current = client.get_secret_value(SecretId=secret_id, VersionStage="AWSCURRENT")
    data = json.loads(current["SecretString"])
    data["password"] = new_password
    token = str(uuid.uuid4())
    client.put_secret_value(
        SecretId=secret_id,
        ClientRequestToken=token,
        SecretString=json.dumps(data),
        VersionStages=["AWSPENDING"],
    )
    set_password(data["username"], new_password)
    return Rotation(client, secret_id, token, current["VersionId"])


def finish(rotation: Rotation) -> None:
    client = rotation.client
    client.update_secret_version_stage(
        SecretId=rotation.secret_id,
        VersionStage="AWSCURRENT",
        MoveToVersionId=rotation.token,
        RemoveFromVersionId=rotation.old_version,
    )
    client.update_secret_version_stage(
        SecretId=rotation.secret_id, VersionStage="AWSPENDING", RemoveFromVersionId=rotation.token
    )


def rotate(client: Any, secret_id: str, new_password: str, set_password: SetPassword) -> Rotation:
    rotation = start(client, secret_id, new_password, set_password)
    finish(rotation)
    return rotation
