#!/usr/bin/env bash
# The benchmark's peers in their own virtualenv (bench/.venv-peers), never runtime
# dependencies of the package: Scrapy + scrapy-playwright, Crawlee's PlaywrightCrawler, and
# py-spy for bench/profile.py. They drive Debian's Chromium, so no browser is downloaded.
set -euo pipefail
cd "$(dirname "$0")"
PY=${PYTHON:-python3}
[ -x .venv-peers/bin/python ] || "$PY" -m venv .venv-peers
stamp=.venv-peers/.installed
if [ ! -f "$stamp" ] || [ setup_peers.sh -nt "$stamp" ]; then
  .venv-peers/bin/python -m pip install -q --upgrade pip
  .venv-peers/bin/python -m pip install -q scrapy scrapy-playwright 'crawlee[playwright]' py-spy
  touch "$stamp"
fi
