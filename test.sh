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

say "building the release site (cargo leptos build --release --split)"
cargo leptos build --release --split
"$CARGO_TARGET_DIR/release/chatsphere" precompress target/site/pkg

# The journeys get databases of their own, fresh every run, on the same server: one for the
# app on its embedded defaults, one for the app on the (fake) cloud providers.
E2E_DB=chatsphere_e2e
E2E_CLOUD_DB=chatsphere_e2e_cloud
base_url=${DATABASE_URL%/*}
for db in $E2E_DB $E2E_CLOUD_DB; do
  PGOPTIONS=--client-min-messages=warning "$(pg_bin)/psql" "$base_url/postgres" -qc "DROP DATABASE IF EXISTS $db WITH (FORCE)" -c "CREATE DATABASE $db" >/dev/null
done
# Not CHATSPHERE_*: that prefix is the server's configuration.
E2E_PORT=${E2E_PORT:-3100}
E2E_CLOUD_PORT=${E2E_CLOUD_PORT:-3101}
FAKE_PORT=${FAKE_PORT:-3210}
export E2E_BASE_URL="http://127.0.0.1:$E2E_PORT"
export E2E_CLOUD_BASE_URL="http://127.0.0.1:$E2E_CLOUD_PORT"
# Something already answering there would take the journeys instead of this build.
for url in "$E2E_BASE_URL/readyz" "$E2E_CLOUD_BASE_URL/readyz" "http://127.0.0.1:$FAKE_PORT/v1beta/models"; do
  if curl -sS -o /dev/null "$url" 2>/dev/null; then
    echo "$url already answers; stop what serves it or choose other ports (E2E_PORT, E2E_CLOUD_PORT, FAKE_PORT)"; exit 1
  fi
done
pids=()
trap 'for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null; done; wait 2>/dev/null || true' EXIT

# The fake Gemini, Pinecone and OpenAI-compatible services (built by cargo test above).
fake_log=$(mktemp -t chatsphere-fake-cloud.XXXXXX.log)
FAKE_GEMINI_PORT=$FAKE_PORT FAKE_PINECONE_PORT=$((FAKE_PORT + 1)) FAKE_OPENAI_PORT=$((FAKE_PORT + 2)) FAKE_GEMINI_DELAY_MS=150 \
  FAKE_SMTP_PORT=$((FAKE_PORT + 3)) FAKE_INBOX_PORT=$((FAKE_PORT + 4)) \
  GEMINI_API_KEY=e2e-gemini-key PINECONE_API_KEY=e2e-pinecone-key \
  "$CARGO_TARGET_DIR/release/examples/fake_cloud" >"$fake_log" 2>&1 &
pids+=($!)
# Mail the embedded-defaults server sends (reset links) lands in the sink; journeys read it here.
export E2E_INBOX_URL="http://127.0.0.1:$((FAKE_PORT + 4))/inbox"

# start_server PORT DATABASE LOG [VAR=value ...]: the release server with extra settings.
start_server() {
  local port=$1 db=$2 log=$3; shift 3
  # The journeys sign up a new account each from one address: lift the per-address sign-up
  # throttle (tested on its own in tests/accounts.rs), or the eleventh journey would get a 429.
  env DATABASE_URL="$base_url/$db" \
    CHATSPHERE_AUTH_MAX_SIGNUPS_PER_IP=1000 \
    CHATSPHERE_SERVER_SITE_ADDR="127.0.0.1:$port" \
    CHATSPHERE_SERVER_PUBLIC_URL="http://127.0.0.1:$port" \
    CHATSPHERE_SERVER_SITE_ROOT="target/site" \
    "$@" "$CARGO_TARGET_DIR/release/chatsphere" >"$log" 2>&1 &
  pids+=($!)
  local pid=$!
  for _ in $(seq 1 120); do
    curl -fsS "http://127.0.0.1:$port/readyz" >/dev/null 2>&1 && return 0
    if ! kill -0 "$pid" 2>/dev/null; then
      echo "the server on :$port exited before it was ready:"; tail -n 40 "$log"; exit 1
    fi
    sleep 0.5
  done
  echo "the server on :$port did not become ready:"; tail -n 40 "$log"; exit 1
}

log=$(mktemp -t chatsphere-e2e-server.XXXXXX.log)
say "starting the server on $E2E_BASE_URL (embedded defaults; log: $log)"
start_server "$E2E_PORT" "$E2E_DB" "$log" CHATSPHERE_LLM_OFFLINE_WORD_DELAY_MS=30 \
  CHATSPHERE_MAIL_SMTP_URL="smtp://127.0.0.1:$((FAKE_PORT + 3))"

cloud_log=$(mktemp -t chatsphere-e2e-cloud.XXXXXX.log)
say "starting the server on $E2E_CLOUD_BASE_URL (Gemini + Pinecone fakes; log: $cloud_log)"
start_server "$E2E_CLOUD_PORT" "$E2E_CLOUD_DB" "$cloud_log" \
  GEMINI_API_KEY=e2e-gemini-key PINECONE_API_KEY=e2e-pinecone-key \
  CHATSPHERE_GEMINI_BASE_URL="http://127.0.0.1:$FAKE_PORT/v1beta" \
  CHATSPHERE_PINECONE_CONTROL_URL="http://127.0.0.1:$((FAKE_PORT + 1))" \
  CHATSPHERE_PINECONE_POLL_MS=100 \
  CHATSPHERE_EMBEDDINGS_PROVIDER=gemini CHATSPHERE_VECTORS_PROVIDER=pinecone

say "Playwright journeys in Chromium"
if ! (cd end2end && npx playwright test); then
  echo "--- server log (last 40 lines) ---"; tail -n 40 "$log"
  echo "--- cloud server log (last 40 lines) ---"; tail -n 40 "$cloud_log"
  echo "--- fake cloud log ---"; tail -n 20 "$fake_log"
  exit 1
fi

say "visitor weight budgets (release, brotli -q 11)"
# What a website pays for the widget (the loader, on every page view) and what the chat panel
# needs for its first render (HTML, script, styles), measured on a bot a journey published.
br() { brotli -c -q 11 | wc -c; }
public_bot=$(PGOPTIONS=--client-min-messages=warning "$(pg_bin)/psql" "$base_url/$E2E_DB" -tAc "SELECT public_id FROM bots WHERE visibility = 'public' LIMIT 1")
[ -n "$public_bot" ] || { echo "no published bot to measure (the widget journeys publish one)"; exit 1; }
parts=$(mktemp -d)
curl -fsS "$E2E_BASE_URL/s/$public_bot" >"$parts/page.html"
curl -fsS "$E2E_BASE_URL/visitor-assets/panel.js" >"$parts/panel.js"
curl -fsS "$E2E_BASE_URL/visitor-assets/panel.css" >"$parts/panel.css"
curl -fsS "$E2E_BASE_URL/widget.js" >"$parts/widget.js"
loader_raw=$(wc -c <"$parts/widget.js"); loader_br=$(br <"$parts/widget.js")
panel_raw=0; panel_br=0
for f in page.html panel.js panel.css; do
  panel_raw=$((panel_raw + $(wc -c <"$parts/$f"))); panel_br=$((panel_br + $(br <"$parts/$f")))
done
printf '%-34s %8s %8s %8s\n' part raw brotli budget
printf '%-34s %8s %8s %8s\n' "widget loader (widget.js)" "$loader_raw" "$loader_br" 5120
printf '%-34s %8s %8s %8s\n' "panel first render (html+js+css)" "$panel_raw" "$panel_br" 61440
if [ "$loader_br" -gt 5120 ] || [ "$panel_br" -gt 61440 ]; then echo "a visitor budget is exceeded"; exit 1; fi

say "front end on the wire (release, as the server sends it)"
# The file names carry content hashes (hash.txt beside the binary); the server must send the
# brotli copy to a browser that takes it, and let it be kept for a year.
hash_of() { sed -n "s/^$1: *//p" "$CARGO_TARGET_DIR/release/hash.txt"; }
printf '%-40s %12s %12s %12s\n' file raw "sent (br)" "sent (gzip)"
for ext in wasm js css; do
  name="chatsphere.$(hash_of "$ext").$ext"
  [ -f "target/site/pkg/$name" ] || { echo "target/site/pkg/$name is missing (hash.txt: $(hash_of "$ext"))"; exit 1; }
  headers=$(curl -fsS -o "$parts/$name.br" -D - -H 'Accept-Encoding: br, gzip' "$E2E_BASE_URL/pkg/$name")
  grep -qi '^content-encoding: br' <<<"$headers" || { echo "$name was not sent as brotli:"; echo "$headers"; exit 1; }
  grep -qi '^cache-control: public, max-age=31536000, immutable' <<<"$headers" || { echo "$name is not cached as immutable:"; echo "$headers"; exit 1; }
  curl -fsS -o "$parts/$name.gz" -H 'Accept-Encoding: gzip' "$E2E_BASE_URL/pkg/$name"
  printf '%-40s %12s %12s %12s\n' "$name" "$(wc -c <"target/site/pkg/$name")" "$(wc -c <"$parts/$name.br")" "$(wc -c <"$parts/$name.gz")"
done

say "first visit per page (release, brotli as sent; each page's lazily loaded WASM chunks)"
node end2end/checks/first-visit-bytes.mjs target/site/pkg "$CARGO_TARGET_DIR/release/hash.txt" "$E2E_BASE_URL"
