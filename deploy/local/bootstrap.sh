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
PY=""
for candidate in python3.12 python3.11 python3; do
  # pyenv shims exist for versions that are not active: ask each one to run
  if command -v "$candidate" >/dev/null 2>&1 && "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
    PY="$(command -v "$candidate")"; break
  fi
done
[ -n "$PY" ] || die "Python 3.11 or 3.12 is required (found none on PATH)"
cd "$REPO_ROOT"
uv sync --frozen --all-packages --python "$PY" --quiet
