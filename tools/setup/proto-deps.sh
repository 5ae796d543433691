#!/usr/bin/env bash
# google/api and google/rpc .proto files (the buf Schema Registry is unreachable here),
# taken from the Go module GOOGLEAPIS_PROTO_MODULE (tools/versions.env) into
# .proto-deps/googleapis/google/{api,rpc}/. buf.yaml names .proto-deps/googleapis as a module.
set -euo pipefail
ROOT="${ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}"
source "$ROOT/tools/setup/lib.sh"

DEST="$PROTO_DEPS_DIR/googleapis"
stamp="$PROTO_DEPS_DIR/.stamp"
want="$GOOGLEAPIS_PROTO_MODULE third_party/googleapis/google/{api,rpc}"
[[ -f "$stamp" && "$(<"$stamp")" == "$want" && -d "$DEST/google/api" && -d "$DEST/google/rpc" ]] && exit 0

log "protos: google/api, google/rpc from $GOOGLEAPIS_PROTO_MODULE"
src="$(mod_dir "$GOOGLEAPIS_PROTO_MODULE")/third_party/googleapis/google"
[[ -d "$src/api" && -d "$src/rpc" ]] || die "$src/{api,rpc} not found"
rm -rf "$PROTO_DEPS_DIR"
mkdir -p "$DEST/google"
cp -r "$src/api" "$src/rpc" "$DEST/google/"
# Only .proto files (the module also ships README/BUILD files there).
find "$DEST" -type f ! -name '*.proto' -delete
chmod -R u+w "$PROTO_DEPS_DIR"
printf '%s' "$want" >"$stamp"
