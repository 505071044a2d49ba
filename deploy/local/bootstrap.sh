#!/usr/bin/env bash
# Make sure uv (pinned) is available and the workspace environment matches uv.lock.
# Prints nothing on success but progress lines on stderr.
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
UV_VERSION="0.13.9"
export UV_PYTHON_DOWNLOADS=never   # the machine's CPython 3.11+ is used; no interpreter downloads
export PATH="$HOME/.local/bin:$PATH"
if ! command -v uv >/dev/null 2>&1; then
  say "installing uv $UV_VERSION from PyPI"
  python3 -m pip install --quiet --user "uv==$UV_VERSION" 2>/dev/null \
    || python3 -m pip install --quiet --break-system-packages --user "uv==$UV_VERSION"
fi
PY="$(command -v python3.12 || command -v python3.11 || command -v python3)"
cd "$REPO_ROOT"
uv sync --frozen --all-packages --python "$PY" --quiet
