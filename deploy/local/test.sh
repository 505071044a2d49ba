#!/usr/bin/env bash
# `make test`: install dependencies, run the static checks (ruff, mypy: checks.sh), start
# what infrastructure is not running, run every test, stop what this run started (and only that).
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
"$REPO_ROOT/deploy/local/bootstrap.sh"
"$REPO_ROOT/deploy/local/checks.sh"
"$REPO_ROOT/deploy/local/browser.sh"
started="$(mktemp)"
cleanup() {
  local comps; comps=$(tr '\n' ' ' < "$started")
  [ -n "${comps// /}" ] && "$REPO_ROOT/deploy/local/infra.sh" stop $comps
  rm -f "$started"
}
trap cleanup EXIT
"$REPO_ROOT/deploy/local/infra.sh" start --record "$started"
cf_kafka_client_env   # the broker may have just started: its clients authenticate (ADR 0215)
if [ -x "$REPO_ROOT/deploy/local/deploy_tools.sh" ]; then "$REPO_ROOT/deploy/local/deploy_tools.sh"; fi
cd "$REPO_ROOT"
"$VENV_PY" -m counterflow_shared.events.admin wait
"$VENV_PY" -m pytest "$@"
