"""Staging and move statements (pure; the Spark tests run them for real)."""

from __future__ import annotations

import re

import pytest

from glue_lib.dialects import dialect_for


def test_quoting_and_staging_names() -> None:
    pg, my = dialect_for("aurora-postgresql"), dialect_for("mariadb")
    assert pg.table('sales.odd"name') == '"sales"."odd""name"'
    assert my.table("sales.odd`name") == "`sales`.`odd``name`"
    staged = pg.staging_name("sales.Orders-2024")
    assert re.fullmatch(r"sales\.Orders2024__ps_stage_[0-9a-f]{8}", staged)
    assert pg.staging_name("t") != pg.staging_name("t")


def test_move_statements() -> None:
    pg = dialect_for("postgres")
    assert pg.move_sql("append", "s", "t", ["id", "v"]) == [
        'INSERT INTO "t" ("id", "v") SELECT "id", "v" FROM "s"'
    ]
    overwrite = pg.move_sql("overwrite", "s", "t", ["id"])
    assert overwrite[0] == 'DELETE FROM "t"'  # not TRUNCATE: MySQL would commit it alone
    up = pg.move_sql("upsert", "s", "t", ["id", "v"], ["id"])
    assert up[0].startswith('UPDATE "t" AS tt SET "v" = ss."v" FROM "s" AS ss')
    assert "LEFT JOIN" in up[1] and 'tt."id" IS NULL' in up[1]
    my = dialect_for("mysql").move_sql("upsert", "s", "t", ["id", "v"], ["id"])
    assert my[0] == "UPDATE `t` tt JOIN `s` ss ON tt.`id` = ss.`id` SET tt.`v` = ss.`v`"


def test_move_errors() -> None:
    pg = dialect_for("postgres")
    with pytest.raises(ValueError, match="key_columns"):
        pg.move_sql("upsert", "s", "t", ["id"])
    with pytest.raises(ValueError, match="not among"):
        pg.move_sql("upsert", "s", "t", ["id"], ["nope"])
    with pytest.raises(ValueError, match="mode"):
        pg.move_sql("merge", "s", "t", ["id"])
    with pytest.raises(ValueError, match="staging=False"):
        dialect_for("oracle")
