"""Test-only single-user rotation against moto and a real database.

Drives the four rotation steps by hand so a test can hold the window between
``setSecret`` (the database already wants the new password) and ``finishSecret``
(AWSCURRENT moves to it) open as long as it likes.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from typing import Any


class Rotation:
    def __init__(
        self,
        client: Any,
        secret_id: str,
        set_db_password: Callable[[str, str], None],
        new_password: Callable[[], str],
    ) -> None:
        self.client = client
        self.secret_id = secret_id
        self.set_db_password = set_db_password
        self.new_password = new_password
        self.token: str | None = None

    def current(self) -> dict[str, Any]:
        value = self.client.get_secret_value(SecretId=self.secret_id, VersionStage="AWSCURRENT")
        return dict(json.loads(value["SecretString"]))

    def create_and_set(self) -> str:
        """createSecret + setSecret: AWSPENDING holds the new password, the database
        accepts only it; AWSCURRENT still has the old one."""
        doc = self.current()
        doc["password"] = self.new_password()
        self.token = str(uuid.uuid4())
        self.client.put_secret_value(
            SecretId=self.secret_id,
            ClientRequestToken=self.token,
            SecretString=json.dumps(doc),
            VersionStages=["AWSPENDING"],
        )
        self.set_db_password(doc["username"], doc["password"])
        return self.token

    def finish(self) -> None:
        """finishSecret: AWSCURRENT moves to the new version; AWSPENDING is removed."""
        assert self.token is not None
        meta = self.client.describe_secret(SecretId=self.secret_id)
        current = next(
            vid for vid, stages in meta["VersionIdsToStages"].items() if "AWSCURRENT" in stages
        )
        self.client.update_secret_version_stage(
            SecretId=self.secret_id,
            VersionStage="AWSCURRENT",
            MoveToVersionId=self.token,
            RemoveFromVersionId=current,
        )
        self.client.update_secret_version_stage(
            SecretId=self.secret_id, VersionStage="AWSPENDING", RemoveFromVersionId=self.token
        )
        self.token = None

    def rotate(self, stop_after: str | None = None) -> None:
        self.create_and_set()
        if stop_after != "setSecret":
            self.finish()
