#!/usr/bin/env bash
# Sets up (idempotently), builds the static site and serves it, printing its URL.
set -euo pipefail
cd "$(dirname "$0")/.."
bash build/setup.sh
PORT="${PORT:-8000}"
exec .venv/bin/python -m agentdb.serve --port "$PORT"
