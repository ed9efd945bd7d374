"""SQL for staging tables and for moving staged rows into a target, per engine family.

Only PostgreSQL (and Redshift-compatible syntax where it is the same) and
MySQL/MariaDB are supported for staged writes. Identifiers are quoted here; table
names may be ``schema.table``.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass

from pipeline_secrets.engine_facts import engine_info

MODES = ("append", "overwrite", "upsert")


@dataclass(frozen=True)
class Dialect:
    family: str  # "postgres" or "mysql"
    dbapi_driver: str  # "psycopg2" or "pymysql"

    @property
    def param(self) -> str:
        return "%s"

    def quote(self, name: str) -> str:
        q = '"' if self.family == "postgres" else "`"
        return q + name.replace(q, q + q) + q

    def table(self, name: str) -> str:
        """Quote ``schema.table`` (an already quoted name is kept as it is)."""
        if name.startswith(('"', "`")):
            return name
        return ".".join(self.quote(part) for part in name.split("."))

    def staging_name(self, table: str) -> str:
        schema, _, base = table.rpartition(".")
        base = re.sub(r"[^A-Za-z0-9_]", "", base)[:30] or "t"
        staged = f"{base}__ps_stage_{secrets.token_hex(4)}"
        return f"{schema}.{staged}" if schema else staged

    # -- statements -----------------------------------------------------------------
    def table_exists_sql(self, table: str) -> tuple[str, tuple[str, ...]]:
        schema, _, base = table.rpartition(".")
        if self.family == "postgres":
            if schema:
                return (
                    "SELECT 1 FROM information_schema.tables WHERE table_schema = %s "
                    "AND table_name = %s",
                    (schema, base),
                )
            return ("SELECT to_regclass(%s) IS NOT NULL", (self.table(table),))
        if schema:
            return (
                "SELECT 1 FROM information_schema.tables WHERE table_schema = %s "
                "AND table_name = %s",
                (schema, base),
            )
        return (
            "SELECT 1 FROM information_schema.tables WHERE table_schema = DATABASE() "
            "AND table_name = %s",
            (base,),
        )

    def create_like_sql(self, new: str, like: str, *, staging: bool = False) -> str:
        """``new`` with the columns of ``like``. A PostgreSQL staging table is UNLOGGED
        and has no indexes (its rows are transient; loading it is cheaper)."""
        if self.family == "postgres":
            unlogged = "UNLOGGED " if staging else ""
            return (
                f"CREATE {unlogged}TABLE {self.table(new)} (LIKE {self.table(like)} "
                "INCLUDING DEFAULTS INCLUDING GENERATED)"
            )
        return f"CREATE TABLE {self.table(new)} LIKE {self.table(like)}"

    def drop_sql(self, table: str) -> str:
        return f"DROP TABLE IF EXISTS {self.table(table)}"

    def truncate_sql(self, table: str) -> str:
        return f"TRUNCATE TABLE {self.table(table)}"

    def move_sql(
        self,
        mode: str,
        staging: str,
        target: str,
        columns: Sequence[str],
        key_columns: Sequence[str] = (),
    ) -> list[str]:
        """Statements that move every staged row into ``target``; run them in ONE
        transaction (each statement is transactional DML on both families)."""
        if mode not in MODES:
            raise ValueError(f"mode must be one of {', '.join(MODES)}, not {mode!r}")
        s, t = self.table(staging), self.table(target)
        cols = ", ".join(self.quote(c) for c in columns)
        insert_all = f"INSERT INTO {t} ({cols}) SELECT {cols} FROM {s}"
        if mode == "append":
            return [insert_all]
        if mode == "overwrite":
            # DELETE, not TRUNCATE: MySQL's TRUNCATE commits on its own.
            return [f"DELETE FROM {t}", insert_all]
        if not key_columns:
            raise ValueError("upsert needs key_columns")
        missing = [k for k in key_columns if k not in columns]
        if missing:
            raise ValueError(f"key column(s) {missing} are not among the written columns")
        others = [c for c in columns if c not in key_columns]
        on = " AND ".join(f"tt.{self.quote(k)} = ss.{self.quote(k)}" for k in key_columns)
        scols = ", ".join(f"ss.{self.quote(c)}" for c in columns)
        first_key = self.quote(key_columns[0])
        insert_new = (
            f"INSERT INTO {t} ({cols}) SELECT {scols} FROM {s} ss "
            f"LEFT JOIN {t} tt ON {on} WHERE tt.{first_key} IS NULL"
        )
        statements: list[str] = []
        if others:
            if self.family == "postgres":
                sets = ", ".join(f"{self.quote(c)} = ss.{self.quote(c)}" for c in others)
                statements.append(f"UPDATE {t} AS tt SET {sets} FROM {s} AS ss WHERE {on}")
            else:
                sets = ", ".join(f"tt.{self.quote(c)} = ss.{self.quote(c)}" for c in others)
                statements.append(f"UPDATE {t} tt JOIN {s} ss ON {on} SET {sets}")
        statements.append(insert_new)
        return statements


def dialect_for(engine: str) -> Dialect:
    info = engine_info(engine)
    if info.family == "postgres" and info.name == "postgres":
        return Dialect("postgres", "psycopg2")
    if info.family == "mysql":
        return Dialect("mysql", "pymysql")
    raise ValueError(
        f"staged writes support PostgreSQL and MySQL/MariaDB, not {info.name!r} "
        "(use staging=False for a plain Spark JDBC write)"
    )


def default_dbapi_driver(engine: str) -> str:
    info = engine_info(engine)
    if info.name == "redshift":
        return "redshift_connector"
    if info.family == "postgres":
        return "psycopg2"
    if info.family == "mysql":
        return "pymysql"
    if info.family == "oracle":
        return "oracledb"
    return "pymssql"
