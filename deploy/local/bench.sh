#!/usr/bin/env bash
# `make bench`: every benchmark, with the infrastructure it needs started (and stopped after).
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
started="$(mktemp)"
cleanup() { local c; c=$(tr '\n' ' ' < "$started"); [ -n "${c// /}" ] && "$REPO_ROOT/deploy/local/infra.sh" stop $c; rm -f "$started"; }
trap cleanup EXIT
"$REPO_ROOT/deploy/local/infra.sh" start --record "$started"
cf_kafka_client_env   # the broker may have just started: its clients authenticate (ADR 0215)
cd "$REPO_ROOT"
"$VENV_PY" -m counterflow_shared.events.admin wait
"$VENV_PY" -m bench "$@"
