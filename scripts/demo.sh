#!/usr/bin/env bash
# The one-command demo: set up (idempotently), then move data from "RDS" to "Redshift"
# with credentials that live only in Secrets Manager and rotate mid-run. No Docker.
#
#   bash scripts/demo.sh                      # everything on embedded defaults
#   PIPELINE_SECRETS_PG_ADMIN_DSN=postgresql://postgres:pw@host:5432/postgres bash scripts/demo.sh
#
# Extra arguments go to `python -m devstack.demo` (--pause, --days, --skip-glue ...).
# PIPELINE_SECRETS_SKIP_SETUP=1 skips scripts/setup.sh (environments already built).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
if [ "${PIPELINE_SECRETS_SKIP_SETUP:-0}" != 1 ]; then
  SKIP_AIRFLOW2=${SKIP_AIRFLOW2:-1} bash scripts/setup.sh
fi
HOME_DIR=${PIPELINE_SECRETS_HOME:-$HOME/.cache/pipeline-secrets}
PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}" exec "$HOME_DIR/venv-af3/bin/python" -m devstack.demo "$@"
