"""What a database engine must provide to be rotated.

Engine modules import their driver lazily, inside the methods, so importing
``pipeline_secrets.rotation`` needs no database driver.
"""

from __future__ import annotations

from typing import Any, Protocol

from pipeline_secrets.rotation.target import DbTarget

CONNECT_TIMEOUT_SECONDS = 5


class RotationEngine(Protocol):
    name: str
    max_username_length: int

    def connect(self, target: DbTarget, *, timeout: int = CONNECT_TIMEOUT_SECONDS) -> Any:
        """A DB-API connection logged in as ``target`` (driver errors propagate)."""
        ...

    def set_own_password(self, conn: Any, username: str, password: str) -> None:
        """Single user: the logged-in user ``username`` changes its own password."""
        ...

    def upsert_user(
        self, master_conn: Any, *, template_user: str, user: str, password: str
    ) -> None:
        """Alternating users: create ``user`` (or reset its password) with the privileges
        of ``template_user``. Must be safe to repeat."""
        ...

    def privilege_problems(self, master_conn: Any, user: str) -> list[str]:
        """Why ``user`` may not be a template or target of alternating users (it could
        act as an administrator); empty when it may, or does not exist."""
        ...

    def check(self, conn: Any) -> None:
        """Run a harmless query (testSecret)."""
        ...
