#!/usr/bin/env bash
# Static checks that `make test` runs before pytest: ruff (lint; the rule set is in
# pyproject.toml [tool.ruff]) over all Python code, and mypy (strict, with the two
# exceptions in [tool.mypy]) over shared/. Both come pinned from uv.lock's dev group.
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
cd "$REPO_ROOT"
"$REPO_ROOT/.venv/bin/ruff" check shared services deploy/replay tests bench
"$REPO_ROOT/.venv/bin/mypy"
