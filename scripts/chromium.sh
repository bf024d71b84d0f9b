#!/usr/bin/env bash
# Debian's Chromium for the browser tests (Playwright drives it; no browser downloads).
set -euo pipefail
if [ -x /usr/bin/chromium ]; then exit 0; fi
if [ "$(id -u)" != 0 ]; then echo "chromium: need root to apt-get install chromium" >&2; exit 1; fi
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-noto-color-emoji >/dev/null
echo "chromium: installed $(/usr/bin/chromium --version)"
