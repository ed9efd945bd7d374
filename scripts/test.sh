#!/usr/bin/env bash
# The test command: set up (idempotently), lint, type-check, then run the suite on
# Airflow 3; then, on Airflow 2.11 (SQLAlchemy 1.4), what touches Airflow
# (tests/airflow_plugin) and the tests that build SQLAlchemy engines.
# Exits non-zero on any failure. Extra arguments go to both pytest runs, e.g. the
# fast lane: bash scripts/test.sh -m "not slow"
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
bash scripts/setup.sh || exit 1
HOME_DIR=${PIPELINE_SECRETS_HOME:-$HOME/.cache/pipeline-secrets}
V3="$HOME_DIR/venv-af3/bin"
V2="$HOME_DIR/venv-af2/bin"
failed=()
step() { printf '\n=== %s\n' "$1"; }

step "ruff"
"$V3/ruff" check . && "$V3/ruff" format --check . || failed+=(ruff)

step "mypy"
"$V3/mypy" || failed+=(mypy)

step "pytest (Airflow 3)"
"$V3/pytest" -q -p no:cacheprovider --durations=25 "$@"
rc=$?
[ $rc -eq 0 ] || failed+=("pytest-airflow3 (exit $rc)")

if [ -x "$V2/pytest" ] && [ -d tests/airflow_plugin ]; then
  step "pytest (Airflow 2.11 compatibility)"
  "$V2/pytest" -q -p no:cacheprovider "$@" tests/airflow_plugin \
    tests/pipeline_secrets/test_credentials.py tests/pipeline_secrets/test_classify.py
  rc=$?
  [ $rc -eq 0 ] || [ $rc -eq 5 ] || failed+=("pytest-airflow2 (exit $rc)")
fi

if ((${#failed[@]})); then
  printf '\nFAILED: %s\n' "${failed[*]}"
  exit 1
fi
printf '\nall checks passed\n'
