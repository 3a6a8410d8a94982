#!/usr/bin/env bash
# Sets up (idempotently), builds the static site into web/dist and serves it on 127.0.0.1,
# printing its URL. PORT=NNNN chooses the port (default 8000).
set -euo pipefail
cd "$(dirname "$0")/.."
bash build/setup.sh
.venv/bin/python build/build_site.py >/dev/null
PORT="${PORT:-8000}"
echo "agentdb is served at http://127.0.0.1:${PORT}/  (Ctrl-C stops it)"
exec .venv/bin/python -m http.server "$PORT" --bind 127.0.0.1 --directory web/dist
