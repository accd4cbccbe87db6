#!/usr/bin/env bash
# Creates .venv with the pinned requirements (uv), installs the project editable, and writes .env from
# .env.example when absent. Idempotent: skips the install when requirements.txt and pyproject.toml are unchanged.
set -euo pipefail
cd "$(dirname "$0")/.."

PY=${STORELOOP_PYTHON:-}
if [ -z "$PY" ]; then
  for c in python3.11 python3; do
    if command -v "$c" >/dev/null 2>&1 && "$c" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))'; then PY=$(command -v "$c"); break; fi
  done
fi
if [ -z "$PY" ]; then
  echo "✗ Python 3.11 is required (python3.11 not found). Install it (Debian/Ubuntu: apt-get install python3.11 python3.11-venv; or pyenv install 3.11) and rerun." >&2
  exit 1
fi

UV=$(command -v uv || true)
if [ -z "$UV" ]; then
  UV_HOME=.local/tools
  if [ ! -x "$UV_HOME/bin/uv" ]; then
    echo "▸ installing uv into $UV_HOME (pip)"
    "$PY" -m venv "$UV_HOME" && "$UV_HOME/bin/pip" install -q uv
  fi
  UV=$UV_HOME/bin/uv
fi

stamp_key=$(cat requirements.txt pyproject.toml | sha256sum | cut -d' ' -f1)
stamp=.venv/.storeloop-installed
if [ -x .venv/bin/python ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$stamp_key" ]; then
  echo "▸ .venv is up to date"
else
  echo "▸ installing pinned requirements into .venv (uv; first time takes a few minutes)"
  start=$(date +%s)
  [ -x .venv/bin/python ] || "$UV" venv -q -p "$PY" .venv
  "$UV" pip install -q -p .venv/bin/python -r requirements.txt
  "$UV" pip install -q -p .venv/bin/python --no-deps -e .
  echo "$stamp_key" > "$stamp"
  echo "  ✓ .venv ready ($(( $(date +%s) - start ))s)"
fi

# LightGBM (the learned ranker) needs the OpenMP runtime, which minimal images (python:3.11-slim) lack
if ! .venv/bin/python -c "import lightgbm" 2>/dev/null; then
  if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null; then
    echo "▸ installing Debian's libgomp1 (OpenMP runtime for LightGBM)"
    apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libgomp1 >/dev/null
  else
    echo "✗ LightGBM cannot load its OpenMP runtime: install it (Debian/Ubuntu: sudo apt-get install libgomp1; macOS: brew install libomp) and rerun." >&2
    exit 1
  fi
fi

if [ ! -f .env ]; then
  cp .env.example .env
  echo "▸ wrote .env from .env.example (edit it to point Storeloop at your own store)"
fi
