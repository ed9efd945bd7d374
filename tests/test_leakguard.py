"""The leak guard itself: a test that leaks through an exception, a caught exception,
or a log fails, and the value is not printed in pytest's own report."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.leakguard import LeakGuard, exception_text

ROOT = Path(__file__).resolve().parents[1]
VALUE = "leak-Ab3xYz9-value"  # not registered in this (outer) session

INNER = f"""
import logging
import pytest

VALUE = {VALUE!r}

@pytest.fixture(autouse=True)
def _register(leak_registry):
    leak_registry.register(VALUE)

def test_raises_with_value():
    raise RuntimeError("could not connect to postgres://u:" + VALUE + "@db/x")

def test_caught_with_value():
    with pytest.raises(ValueError):
        raise ValueError("bad " + VALUE)

def test_chained_cause_with_value():
    with pytest.raises(KeyError):
        try:
            raise OSError(VALUE)
        except OSError as exc:
            raise KeyError("clean message") from exc

def test_failed_assert_shows_value():
    assert VALUE == "something else"

def test_logged_value():
    logging.getLogger("pipeline_secrets.x").warning("value %s", VALUE)

def test_clean():
    with pytest.raises(KeyError):
        try:
            raise OSError(VALUE)
        except OSError:
            raise KeyError("clean") from None

@pytest.mark.allow_secret_output
def test_allowed():
    with pytest.raises(ValueError):
        raise ValueError(VALUE)
"""


def test_guard_fails_leaking_tests_and_hides_the_value(tmp_path: Path) -> None:
    test_file = tmp_path / "test_inner.py"
    test_file.write_text(textwrap.dedent(INNER))
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-p",
            "tests.conftest",
            "-q",
            "-rA",
            "-p",
            "no:cacheprovider",
            "--rootdir",
            str(tmp_path),
            str(test_file),
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    output = proc.stdout + proc.stderr
    assert proc.returncode == 1, output[-2000:]
    assert VALUE not in output
    for name in ("test_raises_with_value", "test_failed_assert_shows_value"):
        assert re.search(rf"FAILED \S*test_inner.py::{name}\b", output), name
    for name in ("test_caught_with_value", "test_chained_cause_with_value", "test_logged_value"):
        assert re.search(rf"ERROR \S*test_inner.py::{name}\b", output), name
    assert re.search(r"PASSED \S*test_inner.py::test_clean\b", output)
    assert re.search(r"PASSED \S*test_inner.py::test_allowed\b", output)
    assert "a seeded secret value appeared" in output


def test_exception_text_respects_suppressed_context() -> None:
    try:
        try:
            raise OSError("hidden-context-value")
        except OSError:
            raise KeyError("shown") from None
    except KeyError as exc:
        text = exception_text(exc)
    assert "shown" in text
    assert "hidden-context-value" not in text


def test_scan_files(tmp_path: Path) -> None:
    guard = LeakGuard()
    guard.register("file-leak-value-1")
    (tmp_path / "logs" / "dag_id=x").mkdir(parents=True)
    clean = tmp_path / "logs" / "dag_id=x" / "attempt=1.log"
    clean.write_text("task ran with postgres://u:***@h/db\n")
    assert guard.assert_files_clean(tmp_path / "logs") == 1
    (tmp_path / "logs" / "driver.out").write_text("jdbc password=file-leak-value-1\n")
    with pytest.raises(AssertionError, match=r"driver\.out") as info:
        guard.assert_files_clean(tmp_path / "logs", tmp_path / "missing")
    assert "file-leak-value-1" not in str(info.value)
