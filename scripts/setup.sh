#!/usr/bin/env bash
# Idempotent set-up for the demo, the tests and CI: Debian packages, two virtual
# environments (Airflow 3 with everything; Airflow 2.11 for the compatibility tests),
# and the local database services. Safe to run again; fast when nothing changed.
#
#   PIPELINE_SECRETS_HOME  where the virtual environments live (default ~/.cache/pipeline-secrets)
#   PYTHON                 the interpreter to build them from (default python3.11)
#   SKIP_AIRFLOW2=1        do not build the Airflow 2.11 environment
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
HOME_DIR=${PIPELINE_SECRETS_HOME:-$HOME/.cache/pipeline-secrets}
PY=${PYTHON:-python3.11}
VENV3="$HOME_DIR/venv-af3"
VENV2="$HOME_DIR/venv-af2"
mkdir -p "$HOME_DIR"

say() { printf '[setup] %s\n' "$*" >&2; }

# -- Debian packages --------------------------------------------------------------------
APT_PACKAGES=(libpostgresql-jdbc-java libmariadb-java docker-compose postgresql mariadb-server default-jre-headless chromium)
missing=()
for pkg in "${APT_PACKAGES[@]}"; do
  dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
done
if ((${#missing[@]})); then
  if [ "$(id -u)" = 0 ]; then
    say "installing Debian packages: ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  else
    say "missing Debian packages (run as root to install): ${missing[*]}"
  fi
fi

# -- virtual environments ------------------------------------------------------------------
stamp_of() {  # name spec...: changes when pyproject, constraints or the spec change
  local name=$1; shift
  { cat "$ROOT/pyproject.toml"; cat "$ROOT/constraints/$name.txt" 2>/dev/null || true; echo "$*"; } |
    sha256sum | cut -c1-16
}

build_venv() {  # name dir spec...
  local name=$1 dir=$2; shift 2
  local stamp; stamp=$(stamp_of "$name" "$@")
  if [ ! -x "$dir/bin/python" ]; then
    say "creating $dir"
    "$PY" -m venv "$dir"
    "$dir/bin/pip" install -q -U pip "setuptools>=77" wheel 2>&1 | grep -v "^WARNING: Location" || true
  fi
  if [ "$(cat "$dir/.stamp" 2>/dev/null)" != "$stamp" ]; then
    say "installing $name dependencies (a few minutes the first time)"
    local cons=()
    [ -f "$ROOT/constraints/$name.txt" ] && cons=(-c "$ROOT/constraints/$name.txt")
    if ! "$dir/bin/pip" install -q "${cons[@]}" "$@" > "$HOME_DIR/pip-$name.log" 2>&1; then
      grep -v "^WARNING: Location" "$HOME_DIR/pip-$name.log" | tail -20 >&2
      say "install of $name failed (log: $HOME_DIR/pip-$name.log)"
      exit 1
    fi
    echo "$stamp" > "$dir/.stamp"
  fi
  # Always point the editable install at this checkout (CI uses a fresh clone).
  if ! "$dir/bin/pip" install -q --no-deps --no-build-isolation -e "$ROOT" \
      > "$HOME_DIR/pip-$name-self.log" 2>&1; then
    tail -20 "$HOME_DIR/pip-$name-self.log" >&2
    say "editable install into $name failed"
    exit 1
  fi
}

build_venv af3 "$VENV3" -e "$ROOT[all]" "apache-airflow==3.3.*" "pyspark==3.5.*"
if [ "${SKIP_AIRFLOW2:-0}" != 1 ]; then
  # pandas 2.2+ needs SQLAlchemy 2; Airflow 2.11 runs on SQLAlchemy 1.4.
  build_venv af2 "$VENV2" -e "$ROOT[dev,airflow]" "apache-airflow==2.11.*" \
    "apache-airflow-providers-amazon" "pandas<2.2"
fi

# -- services ----------------------------------------------------------------------------
if ! (echo > /dev/tcp/127.0.0.1/3306) 2>/dev/null; then
  say "starting MariaDB"
  start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd || true
  for _ in $(seq 60); do (echo > /dev/tcp/127.0.0.1/3306) 2>/dev/null && break; sleep 0.5; done
fi
if ! (echo > /dev/tcp/127.0.0.1/5432) 2>/dev/null && command -v pg_ctlcluster >/dev/null; then
  say "starting PostgreSQL"
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -1)" main start || true
fi
say "ready: $VENV3"
