"""Driver-side DB-API connections and SQLAlchemy engines from a secret."""

from __future__ import annotations

from typing import Any

import pytest

from glue_lib import dbapi_connect, run_sql, sqlalchemy_engine, transaction
from tests.glue_lib.conftest import Db


def test_dbapi_connect_and_run_sql(db: Db) -> None:
    run_sql(db.secret_id, ["CREATE TABLE pre (id INTEGER)", "INSERT INTO pre VALUES (1), (2)"])
    with transaction(db.secret_id) as cur:
        cur.execute("INSERT INTO pre VALUES (3)")
    with pytest.raises(RuntimeError), transaction(db.secret_id) as cur:
        cur.execute("INSERT INTO pre VALUES (4)")
        raise RuntimeError("rolled back")
    conn = dbapi_connect(db.secret_id)
    try:
        cur = conn.cursor()
        cur.execute("SELECT id FROM pre ORDER BY id")
        assert [r[0] for r in cur.fetchall()] == [1, 2, 3]
    finally:
        conn.close()


def test_dbapi_connect_in_rotation_window(db: Db) -> None:
    db.rotation.create_and_set()  # AWSCURRENT is now refused; AWSPENDING works
    conn = dbapi_connect(db.secret_id)
    conn.close()


def test_sqlalchemy_engine_fetches_credentials_per_new_connection(db: Db) -> None:
    sqlalchemy = pytest.importorskip("sqlalchemy")
    engine = sqlalchemy_engine(db.secret_id, pool_size=1)
    try:
        holds_password = engine.url.password is not None
        assert not holds_password  # the engine holds no password
        assert "rot" not in repr(engine) and db.creds["password"] not in repr(engine.url)
        with engine.connect() as conn:
            assert conn.execute(sqlalchemy.text("SELECT 1")).scalar() == 1
        db.rotation.create_and_set()
        engine.dispose()  # the next connection is new: it must use AWSPENDING
        with engine.connect() as conn:
            assert conn.execute(sqlalchemy.text("SELECT 2")).scalar() == 2
        db.rotation.finish()
        engine.dispose()
        with engine.connect() as conn:
            assert conn.execute(sqlalchemy.text("SELECT 3")).scalar() == 3
    finally:
        engine.dispose()


def test_wrong_password_everywhere_is_one_clear_error(db: Db, moto: Any) -> None:
    from pipeline_secrets import AuthenticationFailedError, configure
    from pipeline_secrets.client import ClientSettings
    from pipeline_secrets.reconnect import ReconnectPolicy

    configure(
        client_settings=ClientSettings.create(endpoint_url=moto.endpoint_url),
        reconnect_policy=ReconnectPolicy(budget_seconds=0.5, initial_backoff_seconds=0.1),
    )
    db.rotation.set_db_password(db.creds["username"], "not-the-secret-" + "z" * 8)
    with pytest.raises(AuthenticationFailedError, match=db.secret_id) as info:
        dbapi_connect(db.secret_id)
    assert db.creds["password"] not in str(info.value)
