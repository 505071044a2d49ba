#!/usr/bin/env bash
# Headless Chromium for the page tests (tests/browser), from the Debian packages, with the
# CJK fonts the Simplified Chinese pages need. Playwright drives this executable; it
# downloads no browser of its own. Installs only what is missing.
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
missing=()
[ -x /usr/bin/chromium ] || missing+=(chromium)
dpkg -s fonts-noto-cjk >/dev/null 2>&1 || missing+=(fonts-noto-cjk)
if [ ${#missing[@]} -gt 0 ]; then apt_install "${missing[@]}"; fi
/usr/bin/chromium --version >/dev/null 2>&1 || die "chromium does not run"
