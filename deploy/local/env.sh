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
export CF_REDIS_URL="${CF_REDIS_URL:-redis://127.0.0.1:$REDIS_PORT/0}"
# (the default goes through a variable: a literal "{database}" inside ${...:-...} would
#  close the expansion early and add a stray "}" whenever the variable is already set)
_cf_dsn_default="postgresql+asyncpg://$PG_USER:$PG_USER@127.0.0.1:$PG_PORT/{database}"
export CF_POSTGRES_DSN_TEMPLATE="${CF_POSTGRES_DSN_TEMPLATE:-$_cf_dsn_default}"

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
