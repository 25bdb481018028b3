#!/usr/bin/env bash
# Install what the tests need (first time only) and run them all.
# Browser tests need Debian's Chromium: installed here when running as root with apt-get,
# otherwise they skip and say why. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")"
bash scripts/setup-env.sh requirements-dev.txt
if ! command -v chromium >/dev/null 2>&1 && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing Debian's chromium for the browser tests..."
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
    || echo "could not install chromium: browser tests will skip"
fi
exec .venv/bin/python -m pytest "$@"
