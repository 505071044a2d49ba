# Common locations and ports of the local platform (sourced by the other scripts).
# Ports are off the defaults so a developer's own PostgreSQL/Redis/Kafka are untouched.
set -euo pipefail
REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
if [ "$(id -u)" = "0" ]; then
  CF_STATE_DIR="${CF_STATE_DIR:-/var/lib/counterflow}"
else
  CF_STATE_DIR="${CF_STATE_DIR:-${XDG_STATE_HOME:-$HOME/.local/state}/counterflow}"
fi
CF_CACHE_DIR="${CF_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/counterflow}"
KAFKA_VERSION="${KAFKA_VERSION:-4.1.1}"        # Apache Kafka, from Maven Central (org.apache.kafka:kafka_2.13)
KAFKA_PORT="${KAFKA_PORT:-59092}"
KAFKA_CONTROLLER_PORT="${KAFKA_CONTROLLER_PORT:-59093}"
PG_PORT="${PG_PORT:-55432}"
REDIS_PORT="${REDIS_PORT:-56379}"
PG_USER=counterflow
PG_DATABASES="counterflow_ticketing counterflow_selfservice counterflow_mobile counterflow_scoring"
LOG_DIR="$CF_STATE_DIR/logs"
RUN_DIR="$CF_STATE_DIR/run"
mkdir -p "$CF_STATE_DIR" "$LOG_DIR" "$RUN_DIR" "$CF_CACHE_DIR"
export CF_KAFKA_BOOTSTRAP_SERVERS="${CF_KAFKA_BOOTSTRAP_SERVERS:-127.0.0.1:$KAFKA_PORT}"
# Kafka security (ADR 0215): the local broker speaks TLS + SCRAM-SHA-512 only; infra.sh
# makes the CA, broker certificate and one password per user in KAFKA_SECURITY_DIR and, once
# its broker runs, RUN_DIR/kafka-client.env (the admin user's CF_KAFKA_* settings), read here
# so every client of this machine (tests, tools, bench) authenticates from one place.
KAFKA_SECURITY_DIR="$CF_STATE_DIR/kafka-security"
KAFKA_USERS="admin ticketing selfservice mobile-gateway scoring"   # one SCRAM user per service
export CF_KAFKA_SECURITY_DIR="$KAFKA_SECURITY_DIR"
cf_kafka_client_env() {  # (again after infra.sh started the broker in this shell's run)
  if [ -z "${CF_KAFKA_SECURITY_PROTOCOL:-}" ] && [ -f "$RUN_DIR/kafka-client.env" ]; then source "$RUN_DIR/kafka-client.env"; fi
}
cf_kafka_client_env
export CF_REDIS_URL="${CF_REDIS_URL:-redis://127.0.0.1:$REDIS_PORT/0}"
# (the default goes through a variable: a literal "{database}" inside ${...:-...} would
#  close the expansion early and add a stray "}" whenever the variable is already set)
_cf_dsn_default="postgresql+asyncpg://$PG_USER:$PG_USER@127.0.0.1:$PG_PORT/{database}"
export CF_POSTGRES_DSN_TEMPLATE="${CF_POSTGRES_DSN_TEMPLATE:-$_cf_dsn_default}"

# ------------------------------------------------------------------ the project's tools
# The one place that says where the tools the project installs live. Scripts call them by
# these paths, never through the caller's PATH (which on a fresh machine or in CI may lack
# ~/.local/bin, pyenv shims or /usr/local/go/bin).
UV_VERSION="${UV_VERSION:-0.13.9}"
UV_HOME="$CF_CACHE_DIR/uv/$UV_VERSION"           # a virtualenv holding only uv (PyPI wheel)
UV="$UV_HOME/bin/uv"
VENV_PY="$REPO_ROOT/.venv/bin/python"            # the workspace environment (uv sync)
DEPLOY_TOOLS="$CF_CACHE_DIR/deploy-tools"        # bin/kustomize, bin/kubeconform, venv/, schemas/
KAFKA_HOME="$CF_CACHE_DIR/kafka/$KAFKA_VERSION"  # Apache Kafka jars (Maven Central)
# the same places for the Python side (tests and tools read these, never PATH)
export CF_UV="$UV" CF_KAFKA_HOME="$KAFKA_HOME" CF_DEPLOY_TOOLS="$DEPLOY_TOOLS"
export UV_PYTHON_DOWNLOADS=never                 # the machine's CPython is used, never a download
export UV_NO_PROGRESS=1
# uv trusts the system's CA store (as pip, curl and Maven do), so a bank's TLS-inspecting
# proxy whose root CA is installed in /etc/ssl/certs works; uv's bundled roots would not
export UV_SYSTEM_CERTS="${UV_SYSTEM_CERTS:-1}"

say() { printf '\033[1m[counterflow]\033[0m %s\n' "$*" >&2; }
die() { printf '\033[31m[counterflow] error:\033[0m %s\n' "$*" >&2; exit 1; }
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
pid_alive() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

as_root_or_sudo() {
  if [ "$(id -u)" = "0" ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else die "need root to run: $*"; fi
}

apt_install() {
  say "installing Debian packages: $*"
  export DEBIAN_FRONTEND=noninteractive
  as_root_or_sudo apt-get update -qq
  as_root_or_sudo apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

# The newest CPython 3.11/3.12 this machine has: on PATH first, then Debian's /usr/bin.
cf_python() {
  local c
  for c in python3.12 python3.11 python3 /usr/bin/python3.12 /usr/bin/python3.11 /usr/bin/python3; do
    # pyenv shims exist for versions that are not active: ask each candidate to run
    if command -v "$c" >/dev/null 2>&1 && "$c" -c 'import sys; sys.exit(not (3, 11) <= sys.version_info[:2] < (3, 13))' 2>/dev/null; then
      command -v "$c"; return 0
    fi
  done
  return 1
}

# uv at $UV, installed on first use into its own virtualenv (no --user site, no PATH needed).
ensure_uv() {
  [ -x "$UV" ] && "$UV" --version >/dev/null 2>&1 && return 0
  local py; py=$(cf_python) || die "CPython 3.11 or 3.12 is required (found none on PATH or in /usr/bin)"
  say "installing uv $UV_VERSION from PyPI into $UV_HOME"
  rm -rf "$UV_HOME"
  if ! "$py" -m venv "$UV_HOME" >/dev/null 2>&1; then
    apt_install python3-venv
    "$py" -m venv "$UV_HOME" >/dev/null || die "could not create a virtualenv with $py -m venv"
  fi
  "$UV_HOME/bin/python" -m pip install --quiet --disable-pip-version-check "uv==$UV_VERSION" \
    || die "pip install uv==$UV_VERSION failed"
}

# The Go toolchain (for the deployment validation tools), wherever the machine keeps it.
cf_go() {
  local c
  for c in go /usr/local/go/bin/go /usr/lib/go/bin/go; do
    command -v "$c" >/dev/null 2>&1 && { command -v "$c"; return 0; }
  done
  return 1
}
