#!/usr/bin/env bash
# Set up everything `make demo` and `make test` need on a fresh Debian machine:
# a Chromium (Debian's chromium and chromium-headless-shell, else Playwright's), Xvfb for
# headed runs, and the virtualenv.
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
have_chromium() {
  [ -n "${SCRAPER_CHROMIUM:-}" ] && [ -x "${SCRAPER_CHROMIUM}" ] && return 0
  [ -x /usr/bin/chromium ]
}
have_chromium || need_apt+=(chromium)
# Headless runs use the old headless mode's own binary: faster and smaller than chromium.
[ -n "${SCRAPER_CHROMIUM:-}" ] || [ -x /usr/lib/chromium/chromium-headless-shell ] ||
  need_apt+=(chromium-headless-shell)
command -v xvfb-run >/dev/null 2>&1 || need_apt+=(xvfb xauth)
# Screenshots (scrape debug, scrape plot) show Chinese text only with a CJK font.
[ -n "$(fc-list :lang=zh 2>/dev/null)" ] || need_apt+=(fonts-wqy-zenhei)
if [ ${#need_apt[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "setup: installing ${need_apt[*]} with apt-get" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq "${need_apt[@]}" >/dev/null
  else
    echo "setup: not root on Debian: cannot apt-get ${need_apt[*]}" >&2
  fi
fi

PY=${PYTHON:-python3}
"$PY" -c 'import sys; sys.exit(sys.version_info < (3, 11))' || {
  echo "setup: Python >= 3.11 is required (found $("$PY" --version 2>&1))" >&2; exit 1; }
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
stamp=.venv/.installed
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  .venv/bin/python -m pip install -q --upgrade pip
  .venv/bin/python -m pip install -q -e '.[test]'
  touch "$stamp"
fi
# Byte-compile the package (and the replica the tests and benchmarks start): an
# editable install leaves that to the first import, which a PYTHONDONTWRITEBYTECODE
# environment never saves, so each `scrape` process would compile every module again
# (about 0.2 s of its start). Quick when nothing changed.
.venv/bin/python -m compileall -q scraper tests >/dev/null
if ! have_chromium; then
  echo "setup: no system Chromium; installing Playwright's own" >&2
  .venv/bin/playwright install chromium
fi
