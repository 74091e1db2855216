#!/usr/bin/env bash
# Sets up whatever is missing, then builds and serves ChatSphere at http://127.0.0.1:3000 on
# its embedded defaults (a private PostgreSQL unless DATABASE_URL is set). Ctrl-C stops the
# server; the database keeps running and keeps its data (./db.sh stop stops it).
set -euo pipefail
cd "$(dirname "$0")"
./setup.sh
export PATH="$HOME/.cargo/bin:$PATH"
source ./db.sh
echo "[run] database: ${DATABASE_URL%%\?*}"
exec cargo leptos serve --release
