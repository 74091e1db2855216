#!/usr/bin/env bash
# Sets up whatever is missing, then builds and serves ChatSphere at http://127.0.0.1:3000 on
# its embedded defaults (a private PostgreSQL unless DATABASE_URL is set). Ctrl-C stops the
# server; the database keeps running and keeps its data (./db.sh stop stops it).
set -euo pipefail
cd "$(dirname "$0")"
./setup.sh
export PATH="$HOME/.cargo/bin:$PATH"
# The same build folder and compile settings as test.sh, so the two share compiled crates.
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$PWD/target}
export LEPTOS_OUTPUT_NAME=chatsphere
source ./db.sh
echo "[run] database: ${DATABASE_URL%%\?*}"
cargo leptos build --release --split
# Brotli and gzip copies of the front end, which the server sends to browsers that take them.
"$CARGO_TARGET_DIR/release/chatsphere" precompress
exec "$CARGO_TARGET_DIR/release/chatsphere"
