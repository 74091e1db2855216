#!/usr/bin/env bash
# Sets up whatever is missing, then runs every test: unit and integration tests against a
# real PostgreSQL, then the Playwright journeys in Chromium against the release server it
# builds and starts here (and stops afterwards). Ends with the release bundle's size report.
set -euo pipefail
cd "$(dirname "$0")"
./setup.sh
export PATH="$HOME/.cargo/bin:$PATH"
# One build folder per checkout, shared by run.sh and test.sh. Not one across checkouts:
# cargo keeps their dependencies apart but not their final binary and WASM, and a build it
# finds fresh does not copy them back, so one checkout could serve another's outputs.
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$PWD/target}
source ./db.sh

say() { printf '\n\033[1;34m[test]\033[0m %s\n' "$*"; }

# cargo-leptos compiles with LEPTOS_OUTPUT_NAME set, and leptos reads it at compile time;
# the same value here lets the tests and the site share compiled crates instead of
# rebuilding the leptos stack each time.
export LEPTOS_OUTPUT_NAME=chatsphere

say "unit and integration tests (cargo test --release --features ssr)"
# Release, like the server: the same compiled dependencies serve both, and password
# hashing runs at real speed.
cargo test --release --features ssr

say "building the release site (cargo leptos build --release)"
cargo leptos build --release

# The journeys get a database of their own, fresh every run, on the same server.
E2E_DB=chatsphere_e2e
base_url=${DATABASE_URL%/*}
PGOPTIONS=--client-min-messages=warning "$(pg_bin)/psql" "$base_url/postgres" -qc "DROP DATABASE IF EXISTS $E2E_DB WITH (FORCE)" -c "CREATE DATABASE $E2E_DB" >/dev/null
# Not CHATSPHERE_*: that prefix is the server's configuration.
E2E_PORT=${E2E_PORT:-3100}
export E2E_BASE_URL="http://127.0.0.1:$E2E_PORT"
# Something already answering there would take the journeys instead of this build.
if curl -fsS "$E2E_BASE_URL/readyz" >/dev/null 2>&1; then
  echo "port $E2E_PORT is already serving something; stop it or set E2E_PORT"; exit 1
fi
log=$(mktemp -t chatsphere-e2e-server.XXXXXX.log)
say "starting the server on $E2E_BASE_URL (log: $log)"
DATABASE_URL="$base_url/$E2E_DB" \
  CHATSPHERE_SERVER_SITE_ADDR="127.0.0.1:$E2E_PORT" \
  CHATSPHERE_SERVER_PUBLIC_URL="$E2E_BASE_URL" \
  CHATSPHERE_SERVER_SITE_ROOT="target/site" \
  CHATSPHERE_LLM_OFFLINE_WORD_DELAY_MS=30 \
  "$CARGO_TARGET_DIR/release/chatsphere" >"$log" 2>&1 &
server=$!
trap 'kill -TERM $server 2>/dev/null; wait $server 2>/dev/null || true' EXIT
for _ in $(seq 1 120); do
  curl -fsS "$E2E_BASE_URL/readyz" >/dev/null 2>&1 && break
  if ! kill -0 "$server" 2>/dev/null; then
    echo "the server exited before it was ready:"; tail -n 40 "$log"; exit 1
  fi
  sleep 0.5
done

say "Playwright journeys in Chromium"
if ! (cd end2end && npx playwright test); then
  echo "--- server log (last 40 lines) ---"; tail -n 40 "$log"
  exit 1
fi

say "release bundle sizes"
printf '%-28s %12s %12s\n' file raw brotli
for f in target/site/pkg/chatsphere_bg.wasm target/site/pkg/chatsphere.wasm target/site/pkg/chatsphere.js target/site/pkg/chatsphere.css; do
  [ -f "$f" ] || continue
  printf '%-28s %12s %12s\n' "$(basename "$f")" "$(wc -c <"$f")" "$(brotli -c -q 11 "$f" | wc -c)"
done
