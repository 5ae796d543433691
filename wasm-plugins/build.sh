#!/usr/bin/env bash
# Builds every edge plugin into WebAssembly.
#
#   wasm-plugins/build.sh [OUT_DIR]     (default <repo>/.build/plugins)
#
# Writes <name>.wasm for each plugin (with -tags tremolo for those that use
# the tremolo host module, which then also get <name>.portable.wasm, built
# without it, loadable by any http-wasm host), and colour-rs.wasm, the Rust
# colour plugin, built with Debian's rustc (skipped, with a message, when
# that rustc or its wasm32-wasi std is missing).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/.." && pwd)"
out="${1:-$repo/.build/plugins}"
mkdir -p "$out"
out="$(cd "$out" && pwd)"

go="${GO:-go}"
# Plugins using the tremolo host module; plugintest keeps the same
# list (HostModulePlugins).
host_module_plugins=" jwt ratelimit bundle "

build_go() { # name tags file
  (cd "$repo" && GOOS=wasip1 GOARCH=wasm CGO_ENABLED=0 "$go" build -buildmode=c-shared -trimpath \
    -ldflags='-s -w' ${2:+-tags "$2"} -o "$out/$3" "./wasm-plugins/$1/plugin")
}

for dir in "$here"/*/plugin; do
  name="$(basename "$(dirname "$dir")")"
  if [[ "$host_module_plugins" == *" $name "* ]]; then
    build_go "$name" tremolo "$name.wasm"
    build_go "$name" "" "$name.portable.wasm"
  else
    build_go "$name" "" "$name.wasm"
  fi
done

rustc=/usr/bin/rustc
if [[ -x "$rustc" && -d /usr/lib/rustlib/wasm32-wasi ]]; then
  "$rustc" "$here/colour-rs/src/lib.rs" --target wasm32-wasi --crate-type cdylib --crate-name colour_rs \
    --edition 2021 -O -C panic=abort -C strip=symbols -C lto -o "$out/colour-rs.wasm"
else
  echo "build.sh: skipping colour-rs: needs Debian's $rustc and its wasm32-wasi std (/usr/lib/rustlib/wasm32-wasi); apt-get install rustc libstd-rust-dev-wasm32" >&2
fi

ls -l "$out"/*.wasm
