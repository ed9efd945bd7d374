"""rds_to_redshift_etl: daily order totals from RDS PostgreSQL into Redshift.

For each data interval (one day, ``@daily``), ``extract_daily_totals`` reads that
interval's rows of ``public.orders`` through :class:`PostgresSecretsHook` and
aggregates them in the source database (orders, distinct customers, revenue per
``order_date``), so only the small result travels through XCom. ``load_daily_totals``
replaces the interval's rows of ``public.daily_order_totals`` in the target: one
transaction deletes them and inserts the new ones, so a re-run of an interval replaces
it and never duplicates rows. ``check_totals`` compares the target with the source.

Credentials live only in Secrets Manager. The hooks read the secrets behind the
connections ``rds_orders`` and ``redshift_warehouse`` (``airflow/connections/...``,
the same secrets the secrets backend serves as those connections) and get through a
password rotation that happens while the run is going on: refresh, then AWSPENDING
in the single-user rotation window. Set a ``*_secret_id`` to "" to use the
connection id instead (the hook then re-resolves the connection through the secrets
backend after a refused login). A ``redshift`` engine gets
:class:`RedshiftSecretsHook`, anything else :class:`PostgresSecretsHook` (the local
stack uses PostgreSQL for "Redshift").

Secret ids, connection ids and table names: params, else the
``pipeline_example_settings`` Variable, else the local stack's names (see
``pipeline_settings.py``).

    airflow dags test rds_to_redshift_etl 2026-11-03   # loads 2026-11-02 (interval start)
"""

from __future__ import annotations

import logging
import re
from datetime import date, datetime, timezone
from typing import Any

from airflow.sdk import CronDataIntervalTimetable, Param, dag, get_current_context, task
from pipeline_settings import settings

log = logging.getLogger(__name__)

_TABLE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)?$")


def _table(name: str) -> str:
    if not _TABLE.match(name):
        raise ValueError(f"not a plain [schema.]table name: {name!r}")
    return name


def _hook(secret_id: str | None, conn_id: str) -> Any:
    """Our rotation-aware hook for a secret (preferred) or a connection id.

    With a secret id the hook reads the secret itself and gets through the rotation
    window (AWSPENDING); with only a connection id it re-resolves the connection
    through the secrets backend after a refused login. Redshift secrets/connections
    get :class:`RedshiftSecretsHook`, the rest :class:`PostgresSecretsHook`.
    """
    from airflow_plugin.hooks.postgres import PostgresSecretsHook
    from airflow_plugin.hooks.redshift import RedshiftSecretsHook

    if secret_id:
        from airflow_plugin.hooks.secrets_manager import SecretsManagerHook

        engine = SecretsManagerHook(None).get_db_credentials(secret_id).engine or ""
        if engine.startswith("redshift"):
            return RedshiftSecretsHook(secret_id=secret_id)
        return PostgresSecretsHook(secret_id=secret_id)
    from airflow.sdk import BaseHook

    if BaseHook.get_connection(conn_id).conn_type in ("redshift", "pipeline_secrets_redshift"):
        return RedshiftSecretsHook(redshift_conn_id=conn_id)
    return PostgresSecretsHook(postgres_conn_id=conn_id)


def _source_hook(cfg: dict[str, Any]) -> Any:
    return _hook(cfg["source_secret_id"], cfg["source_conn_id"])


def _target_hook(cfg: dict[str, Any]) -> Any:
    return _hook(cfg["target_secret_id"], cfg["target_conn_id"])


def _interval() -> tuple[date, date]:
    context = get_current_context()
    start, end = context["data_interval_start"], context["data_interval_end"]
    if start is None or end is None or end <= start:
        raise ValueError("this DAG needs a data interval (it is scheduled @daily)")
    return start.date(), end.date()


def _aggregate_sql(orders_table: str) -> str:
    return (
        "SELECT order_date, count(*) AS orders, count(DISTINCT customer_id) AS customers, "
        f"sum(amount) AS revenue FROM {_table(orders_table)} "
        "WHERE order_date >= %s AND order_date < %s GROUP BY order_date ORDER BY order_date"
    )


@dag(
    dag_id="rds_to_redshift_etl",
    schedule=CronDataIntervalTimetable("@daily", timezone="UTC"),
    start_date=datetime(2026, 11, 1, tzinfo=timezone.utc),
    catchup=False,
    max_active_runs=1,
    tags=["pipeline-secrets", "example"],
    params={
        "source_conn_id": Param(None, type=["null", "string"]),
        "target_conn_id": Param(None, type=["null", "string"]),
        "source_secret_id": Param(None, type=["null", "string"]),
        "target_secret_id": Param(None, type=["null", "string"]),
        "orders_table": Param(None, type=["null", "string"]),
        "daily_table": Param(None, type=["null", "string"]),
    },
    doc_md=__doc__,
)
def rds_to_redshift_etl() -> None:
    @task
    def extract_daily_totals(params: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        cfg = settings(params)
        start, end = _interval()
        rows = _source_hook(cfg).get_records(
            _aggregate_sql(cfg["orders_table"]), parameters=(start, end)
        )
        totals = [
            {"order_date": d.isoformat(), "orders": int(o), "customers": int(c), "revenue": str(r)}
            for d, o, c, r in rows
        ]
        log.info("%d day(s) of orders in [%s, %s)", len(totals), start, end)
        return totals

    @task
    def load_daily_totals(
        totals: list[dict[str, Any]], params: dict[str, Any] | None = None
    ) -> int:
        cfg = settings(params)
        start, end = _interval()
        table = _table(cfg["daily_table"])
        hook = _target_hook(cfg)
        conn = hook.get_conn()
        try:
            with conn.cursor() as cur:  # one transaction: readers see old or new, never none
                cur.execute(
                    f"DELETE FROM {table} WHERE order_date >= %s AND order_date < %s",
                    (start, end),
                )
                cur.executemany(
                    f"INSERT INTO {table} (order_date, orders, customers, revenue) "
                    "VALUES (%s, %s, %s, %s)",
                    [(t["order_date"], t["orders"], t["customers"], t["revenue"]) for t in totals],
                )
            conn.commit()
        except BaseException:
            conn.rollback()
            raise
        finally:
            conn.close()
        log.info("replaced [%s, %s) in %s with %d row(s)", start, end, table, len(totals))
        return len(totals)

    @task
    def check_totals(loaded: int, params: dict[str, Any] | None = None) -> None:
        cfg = settings(params)
        start, end = _interval()
        expected = _source_hook(cfg).get_records(
            _aggregate_sql(cfg["orders_table"]), parameters=(start, end)
        )
        actual = _target_hook(cfg).get_records(
            "SELECT order_date, orders, customers, revenue FROM "
            f"{_table(cfg['daily_table'])} WHERE order_date >= %s AND order_date < %s "
            "ORDER BY order_date",
            parameters=(start, end),
        )
        norm = [tuple(str(v) for v in row) for row in expected]
        if norm != [tuple(str(v) for v in row) for row in actual] or loaded != len(norm):
            raise ValueError(
                f"target differs from source for [{start}, {end}): "
                f"{len(actual)} row(s) there, {len(norm)} expected"
            )
        log.info("target matches source for [%s, %s): %d day(s)", start, end, len(norm))

    totals = extract_daily_totals()
    check_totals(load_daily_totals(totals))


rds_to_redshift_etl()
