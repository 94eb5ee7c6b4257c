#!/usr/bin/env bash
# `make demo`: start the bundled Youku replica and crawl today-hot (150 videos) from it.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=.venv/bin
PORT=${DEMO_PORT:-$("$BIN/python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')}
VIDEOS=${DEMO_VIDEOS:-150}

"$BIN/python" -m tests.fixtures.replica --port "$PORT" --videos "$VIDEOS" --faults on &
replica=$!
trap 'kill "$replica" 2>/dev/null; wait "$replica" 2>/dev/null || true' EXIT
"$BIN/python" - "$PORT" <<'PY'
import sys, time, urllib.request
url = f"http://127.0.0.1:{sys.argv[1]}/index/jrrm"
for _ in range(200):
    try:
        urllib.request.urlopen(urllib.request.Request(url, headers={"Host": "news.youku.test"}), timeout=1)
        break
    except OSError:
        time.sleep(0.1)
else:
    sys.exit("demo: the replica did not start")
PY

"$BIN/scrape" run --category today-hot --resolve "*.test=127.0.0.1:$PORT" "$@"

cat <<MSG

Done. Files are under ./media/<vid>/ (thumb.jpg, 0.mp4, …).
Look at the data:
  $BIN/scrape export --what videos | head -n 1      # one video as JSON
  $BIN/scrape export --what comments --format csv --out comments.csv
  $BIN/scrape export --what snapshots              # one line per video per visit
With MongoDB (MONGODB_URI or a local server), query it directly, e.g.
  mongosh scraper --eval 'db.videos.find({}, {title: 1, stat_play: 1}).limit(5)'
Run 'make demo' again: a finished run is followed by a new one; static fields stay
from the first crawl, each visit adds a snapshot (the replica's clock restarts with it).
Share a report: $BIN/scrape report --out report.html

See the data (overview, videos, charts, comments) in your browser:
  $BIN/scrape dashboard --open
MSG
