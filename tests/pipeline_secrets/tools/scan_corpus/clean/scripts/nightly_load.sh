#!/usr/bin/env bash
set -euo pipefail
SECRET_JSON=$(aws secretsmanager get-secret-value --secret-id prod/warehouse/loader --query SecretString --output text)
export PGPASSWORD="$(echo "$SECRET_JSON" | jq -r .password)"
export AWS_SECRET_ACCESS_KEY="${AWS_SECRET_ACCESS_KEY:-}"
psql "postgresql://loader@warehouse.internal/dw" -f load.sql
curl -sf -H "Authorization: Bearer ${NOTIFY_TOKEN}" https://hooks.internal/notify
HOME_DIR=${PIPELINE_SECRETS_HOME:-$HOME/.cache/pipeline-secrets}
