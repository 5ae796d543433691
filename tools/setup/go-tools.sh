#!/usr/bin/env bash
# Go tools into .tools/bin (GOBIN=... go install pkg@version), pinned in tools/versions.env.
# Each tool is reinstalled only when its pinned version changes (stamps in .tools/stamps).
set -euo pipefail
ROOT="${ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}"
source "$ROOT/tools/setup/lib.sh"

BIN="$TOOLS_DIR/bin"
STAMPS="$TOOLS_DIR/stamps"

protoc_gen_go_version="${PROTOC_GEN_GO_VERSION:-$(gomod_version google.golang.org/protobuf "$PROTOC_GEN_GO_FALLBACK")}"
gateway_version="${GRPC_GATEWAY_VERSION:-$(gomod_version github.com/grpc-ecosystem/grpc-gateway/v2 "$GRPC_GATEWAY_FALLBACK")}"

# name | binaries it provides | packages (same module) @ version
TOOLS=(
  "buf|buf|github.com/bufbuild/buf/cmd/buf@$BUF_VERSION"
  "protoc-gen-go|protoc-gen-go|google.golang.org/protobuf/cmd/protoc-gen-go@$protoc_gen_go_version"
  "protoc-gen-go-grpc|protoc-gen-go-grpc|google.golang.org/grpc/cmd/protoc-gen-go-grpc@$PROTOC_GEN_GO_GRPC_VERSION"
  "grpc-gateway|protoc-gen-grpc-gateway protoc-gen-openapiv2|github.com/grpc-ecosystem/grpc-gateway/v2/protoc-gen-grpc-gateway@$gateway_version github.com/grpc-ecosystem/grpc-gateway/v2/protoc-gen-openapiv2@$gateway_version"
  "grpcurl|grpcurl|github.com/fullstorydev/grpcurl/cmd/grpcurl@$GRPCURL_VERSION"
)

mkdir -p "$BIN" "$STAMPS"
for entry in "${TOOLS[@]}"; do
  IFS='|' read -r name bins pkgs <<<"$entry"
  stamp="$STAMPS/$name"
  current=true
  [[ -f "$stamp" && "$(<"$stamp")" == "$pkgs" ]] || current=false
  for b in $bins; do [[ -x "$BIN/$b" ]] || current=false; done
  $current && continue

  log "go install ${pkgs// /, }"
  # shellcheck disable=SC2086 # $pkgs is a list
  (cd / && go_quiet env -u GOFLAGS GOBIN="$BIN" GO111MODULE=on go install $pkgs) \
    || die "go install $pkgs failed"
  printf '%s' "$pkgs" >"$stamp"
done
