#!/usr/bin/env bash
# `make demo`: start the platform (infrastructure + four services) and run the main job.
# Until the replay lands (issue 8) it shows the platform's health.
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
"$REPO_ROOT/deploy/local/infra.sh" start
"$REPO_ROOT/deploy/local/services.sh" start
"$REPO_ROOT/deploy/local/infra.sh" status
"$REPO_ROOT/deploy/local/services.sh" status
