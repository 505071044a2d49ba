#!/usr/bin/env bash
# `make demo`: the main job. Starts the infrastructure and the four services exactly as
# `make up` does (infra.sh, services.sh), replays the PKDD'99 bank's branch traffic through
# them (python -m counterflow_replay run), prints the table, writes reports/latest/, and
# stops what it started, on success and on failure alike.
#   make demo [ARGS="--branches 5 --hours 2 --window 1993-11-01:1993-11-30 --staffing 1.2 ..."]
# The services run on the simulated clock the replay moves (CF_CLOCK=redis, see
# docs/replay.md and ADR 0010), so they must be started here: already running services
# are refused. The simulated clock advances once the services' consumers have caught up
# (lag gate); CF_REPLAY_SPEED (default 0 = none) adds a wall-pace bound.
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
PY="$VENV_PY"
SPEED="${CF_REPLAY_SPEED:-0}"
# env.sh appends a stray "}" to an already-set CF_POSTGRES_DSN_TEMPLATE when sourced a
# second time (its default contains braces), so the nested scripts get it unset.
nested() { env -u CF_POSTGRES_DSN_TEMPLATE "$@"; }

# The data first, before anything is started: the PKDD'99 tables and the call-centre log
# (ARGS may point elsewhere with --data / --queue-data).
data="$REPO_ROOT/../shared/data/berka" queue_data="$REPO_ROOT/../shared/data/anonymous_bank"
args=("$@")
for i in "${!args[@]}"; do
  case "${args[$i]}" in
    --data) data="${args[$((i + 1))]:-}" ;; --data=*) data="${args[$i]#--data=}" ;;
    --queue-data) queue_data="${args[$((i + 1))]:-}" ;; --queue-data=*) queue_data="${args[$i]#--queue-data=}" ;;
  esac
done
for f in trans account client disp district; do
  [ -f "$data/$f.asc" ] || die "the PKDD'99 data is missing: $data/$f.asc not found. Put the PKDD'99 (Berka) *.asc files in ../shared/data/berka next to the repository, or pass ARGS=\"--data DIR\". Nothing was started."
done
# scoring's import-berka reads only under its import_data_root setting: the book given here
CF_SCORING_IMPORT_DATA_ROOT="$(cd "$data" && pwd -P)"
export CF_SCORING_IMPORT_DATA_ROOT
compgen -G "$queue_data/calls_*.tsv" >/dev/null \
  || die "the Anonymous Bank call-centre log is missing: no calls_*.tsv in $queue_data. Put it in ../shared/data/anonymous_bank, or pass ARGS=\"--queue-data DIR\". Nothing was started."

for name in ticketing selfservice mobile-gateway scoring; do
  pid_alive "$RUN_DIR/$name.pid" && die "$name is already running (make down first): the replay starts the services itself, on its simulated clock"
done

started="$(mktemp)"
services_started=0
cleanup() {
  local code=$?
  trap - EXIT INT TERM
  if [ "$services_started" = 1 ]; then nested "$REPO_ROOT/deploy/local/services.sh" stop || true; fi
  local comps; comps=$(tr '\n' ' ' < "$started" 2>/dev/null || true)
  if [ -n "${comps// /}" ]; then nested "$REPO_ROOT/deploy/local/infra.sh" stop $comps || true; fi
  rm -f "$started"
  if [ "$code" != 0 ]; then printf '\033[31m[counterflow] make demo failed (exit %s); logs in %s\033[0m\n' "$code" "$LOG_DIR" >&2; fi
  exit "$code"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

nested "$REPO_ROOT/deploy/local/infra.sh" start --record "$started"
cf_kafka_client_env   # the broker may have just started: its clients authenticate (ADR 0215)
"$PY" -m counterflow_shared.events.admin wait
say "starting the four services on the replay's simulated clock"
eval "$("$PY" -m counterflow_replay service-env)"
services_started=1
nested "$REPO_ROOT/deploy/local/services.sh" start
cd "$REPO_ROOT"
"$PY" -m counterflow_replay run --speed "$SPEED" "$@"
