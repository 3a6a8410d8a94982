#!/usr/bin/env bash
# Sets up (idempotently), builds the static site into web/dist and the client as a library
# (dist/agentdb-web-<version>/), and serves the site on 127.0.0.1, printing its URL. PORT=NNNN
# chooses the port (default 8000).
set -euo pipefail
cd "$(dirname "$0")/.."
bash build/setup.sh
.venv/bin/python build/build_site.py >/dev/null
.venv/bin/python build/build_bundle.py --site web/dist >/dev/null   # the library: dist/agentdb-web-<version>/
PORT="${PORT:-8000}"
echo "agentdb is served at http://127.0.0.1:${PORT}/  (Ctrl-C stops it)"
exec .venv/bin/python -m http.server "$PORT" --bind 127.0.0.1 --directory web/dist
