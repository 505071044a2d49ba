#!/usr/bin/env bash
# Make sure uv (pinned, in its own virtualenv under $CF_CACHE_DIR: see env.sh) is there and the
# workspace environment (.venv) matches uv.lock. Needs nothing on the caller's PATH.
# Prints nothing on success but progress lines on stderr.
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
ensure_uv
PY=$(cf_python) || die "CPython 3.11 or 3.12 is required (found none on PATH or in /usr/bin)"
cd "$REPO_ROOT"
# a .venv made by another interpreter that has since gone (e.g. a pyenv version) is rebuilt
if [ -e "$REPO_ROOT/.venv" ] && ! "$VENV_PY" -c '' 2>/dev/null; then rm -rf "$REPO_ROOT/.venv"; fi
"$UV" sync --frozen --all-packages --python "$PY" --quiet
