#!/usr/bin/env bash
set -euo pipefail
export PGPASSWORD=Wq5Xz8Lm2Kv7
export AWS_SECRET_ACCESS_KEY="Mv7Kq2Xw9Lp4Zt8Rn3Yb6Hc1Jd5Fs0Gq2Nw7Vk4X"
psql "postgresql://loader:Cz4Lw9Qx3Vm6@warehouse.internal/dw" -f load.sql
curl -sf -H "Authorization: Bearer Tk2Vx9Lq4Wz7Mp3Rn8Yc5Hb1Jd6Fs" https://hooks.internal/notify
