"""airflow_plugin.connection_import: Airflow's own parser (in a child process: importing
Airflow reconfigures logging) and the stdlib parser agree; errors never quote a value."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from airflow_plugin.connection_import import (
    ConnectionInputError,
    connection_from_uri,
    validate_conn_id,
)

ROOT = Path(__file__).resolve().parents[2]
_CHILD = """
import json, sys
from airflow_plugin.connection_import import (
    ConnectionInputError, choose_parser, connection_from_uri,
)
uris = json.load(sys.stdin)
import airflow
out = {"parser": choose_parser(), "results": [], "airflow_major": int(airflow.__version__[0])}
for uri in uris:
    try:
        out["results"].append(connection_from_uri(uri, "c"))
    except ConnectionInputError as exc:
        out["results"].append({"error": str(exc)})
print("RESULT " + json.dumps(out))
"""


def uris(password: str) -> list[str]:
    pw = quote(password, safe="")
    extra = quote(json.dumps({"region_name": "eu-west-1", "n": 3}))
    return [
        f"postgresql://app:{pw}@db.internal:5433/dw?sslmode=require&application_name=x",
        f"mysql://etl:{pw}@orders/shop",
        f"aws://?__extra__={extra}",
        "http://h?timeout=5&verify=false",
        "google-cloud-platform://?project=p",
        f"postgres://u:{pw}@h:notaport/db",
    ]


@pytest.mark.airflow
def test_airflow_parser_and_stdlib_parser_agree(secret_value: Any) -> None:
    if importlib.util.find_spec("airflow") is None:
        pytest.skip("Airflow is not installed")
    password = secret_value("imp")
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PIPELINE_SECRETS_CONNECTION_PARSER": "auto"}
    proc = subprocess.run(
        [sys.executable, "-c", _CHILD],
        input=json.dumps(uris(password)),
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
        env=env,
    )
    assert proc.returncode == 0, proc.stderr[-1500:]
    line = next(x for x in proc.stdout.splitlines() if x.startswith("RESULT "))
    child = json.loads(line.removeprefix("RESULT "))
    assert child["parser"] == "airflow"
    ours = []
    for uri in uris(password):
        try:
            ours.append(connection_from_uri(uri, "c", parser="stdlib"))
        except ConnectionInputError as exc:
            ours.append({"error": str(exc)})
    # Airflow 3 JSON-decodes URI query values ("5" -> 5), as our stdlib parser does;
    # Airflow 2 keeps them as text.
    assert [_text_extras(r) for r in child["results"]] == [_text_extras(r) for r in ours]
    if child.get("airflow_major", 3) >= 3:
        assert child["results"] == ours
    assert ours[-1] == {"error": "connection 'c': not a valid URI"}
    assert password not in proc.stderr


def _text_extras(conn: dict[str, Any]) -> dict[str, Any]:
    extra = conn.get("extra")
    if isinstance(extra, dict):
        as_text = {k: v if isinstance(v, str) else json.dumps(v) for k, v in extra.items()}
        return {**conn, "extra": as_text}
    return conn


def test_stdlib_parser_errors_name_the_conn_id_only(secret_value: Any) -> None:
    password = secret_value("err", special=False)
    with pytest.raises(ConnectionInputError, match="'bad'") as info:
        connection_from_uri(f"postgres://u:{password}@h:notaport/db", "bad", parser="stdlib")
    assert password not in str(info.value)


@pytest.mark.parametrize(
    ("conn_id", "valid"),
    [
        ("warehouse", True),
        ("orders_db.prod-1", True),
        ("team/orders", True),
        ("", False),
        (" lead", False),
        ("x" * 251, False),
        ("postgres://app:pw@db/x?sslmode", False),
        ("a b", False),  # Airflow allows inner spaces; a secret name does not
    ],
)
def test_conn_id_rules(conn_id: str, valid: bool) -> None:
    if valid:
        assert validate_conn_id(conn_id, "here") == conn_id
    else:
        with pytest.raises(ConnectionInputError) as info:
            validate_conn_id(conn_id, "here")
        assert str(info.value).startswith("here: ") and (
            not conn_id or conn_id not in str(info.value)
        )
