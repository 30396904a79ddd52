#!/usr/bin/env bash
# Shared install steps for scripts/serve and scripts/test. Every step checks first and skips what is present,
# so a second run costs seconds. Tools live in standard places (cargo bin, .tools/node_modules) so CI on the
# same machine reuses them.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TRUNK_VERSION="0.21.14"
BINARYEN_VERSION="132.0.0"
# The wasm-bindgen CLI must be exactly the version Cargo.toml pins with `=`.
WASM_BINDGEN_VERSION="$(sed -n 's/^wasm-bindgen = { version = "=\([0-9.]*\)".*/\1/p; s/^wasm-bindgen = "=\([0-9.]*\)"/\1/p' "$ROOT/Cargo.toml" | head -n1)"
export PATH="$HOME/.cargo/bin:$ROOT/.tools/node_modules/.bin:$PATH"

log() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }

ensure_wasm_target() {
  if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
    log "adding rust target wasm32-unknown-unknown"
    rustup target add wasm32-unknown-unknown
  fi
}

ensure_trunk() {
  if ! trunk --version 2>/dev/null | grep -q "$TRUNK_VERSION"; then
    log "installing trunk $TRUNK_VERSION (takes 7-12 minutes once)"
    cargo install trunk --version "$TRUNK_VERSION" --locked --no-default-features --features rustls
  fi
}

ensure_wasm_bindgen() {
  if ! wasm-bindgen --version 2>/dev/null | grep -q "$WASM_BINDGEN_VERSION"; then
    log "installing wasm-bindgen-cli $WASM_BINDGEN_VERSION"
    # Not --locked: one of its locked dependencies is not served by the registry here.
    cargo install wasm-bindgen-cli --version "$WASM_BINDGEN_VERSION"
  fi
}

ensure_node_tools() {
  # binaryen (wasm-opt) and playwright-core, pinned in .tools/package.json.
  if [ ! -x "$ROOT/.tools/node_modules/.bin/wasm-opt" ] || [ ! -d "$ROOT/.tools/node_modules/playwright-core" ]; then
    log "installing npm tools (binaryen $BINARYEN_VERSION, playwright-core)"
    (cd "$ROOT/.tools" && npm install --no-audit --no-fund --loglevel=error)
  fi
}

ensure_chromium() {
  if [ ! -x /usr/bin/chromium ] || [ ! -x /usr/bin/chromedriver ]; then
    log "installing Debian chromium and chromium-driver"
    local sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq chromium chromium-driver >/dev/null
  fi
}

ensure_build_tools() {
  ensure_wasm_target
  ensure_node_tools
  ensure_wasm_bindgen
  ensure_trunk
}
