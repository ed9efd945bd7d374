"""Pure shape conversion: provider-compatible aliases plus the data the provider drops."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from airflow_plugin.connection_shapes import (
    BASE_WORDS,
    connection_dict,
    standardize,
    word_lists,
)
from airflow_plugin.teams import candidate_paths, refuses
from pipeline_secrets.errors import SecretFormatError

WORDS = word_lists(None)
ALL_ALIASES = sorted({w for words in BASE_WORDS.values() for w in words} | {"dbname"})


@given(
    st.dictionaries(st.sampled_from([*ALL_ALIASES, "other", "x"]), st.text(max_size=5), max_size=8)
)
def test_every_field_the_provider_sets_is_kept(secret: dict[str, str]) -> None:
    theirs = standardize(secret, WORDS)
    ours = connection_dict(secret, secret_id="s", words=WORDS)
    for name in ("login", "password", "host", "port"):
        assert ours[name] == theirs[name]
    if theirs["schema"] is not None:
        assert ours["schema"] == theirs["schema"]
    if isinstance(theirs["extra"], str) and theirs["extra"].strip():
        try:
            json.loads(theirs["extra"])
        except ValueError:
            assert ours["extra"] == theirs["extra"]  # not JSON: kept as the provider has it
    if theirs["conn_type"] is not None and "engine" not in secret:
        assert ours["conn_type"] == theirs["conn_type"]


def test_extra_conn_words_unknown_field() -> None:
    with pytest.raises(ValueError, match="unknown connection field 'colour'"):
        word_lists({"colour": ["c"]})


def test_secret_extra_wins_over_leftovers() -> None:
    conn = connection_dict(
        {"conn_type": "http", "timeout": 1, "extra": json.dumps({"timeout": 2})},
        secret_id="s",
        words=WORDS,
    )
    assert conn["extra"] == {"timeout": 2}


def test_extra_of_wrong_type_names_field() -> None:
    with pytest.raises(SecretFormatError, match="field 'extra' of secret 's'"):
        connection_dict({"conn_type": "http", "extra": 5}, secret_id="s", words=WORDS)


def test_defaults_fill_only_empty_fields() -> None:
    conn = connection_dict(
        {"username": "u", "password": "p", "host": ""},
        secret_id="rds!db",
        words=WORDS,
        defaults={"host": "h", "conn_type": "postgres", "login": "ignored", "secret_id": "x"},
    )
    assert (conn["host"], conn["conn_type"], conn["login"]) == ("h", "postgres", "u")


def test_team_paths() -> None:
    prefixes = ("airflow/connections", "legacy")
    assert candidate_paths(prefixes, "db", sep="/", team_name="t") == [
        "airflow/connections/t--db",
        "airflow/connections/db",
        "legacy/t--db",
        "legacy/db",
    ]
    assert candidate_paths(("",), "db", sep="/", team_name="t") == ["db"]
    assert refuses("a--b", multi_team=True) and not refuses("a--b", multi_team=False)
