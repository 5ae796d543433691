#!/usr/bin/env bash
# THE set-up entry point: installs everything this repository needs, from its own
# files, on a fresh Debian 12 machine with Go. Idempotent; a no-op in well under a
# second when nothing changed. Pins: tools/versions.env. Steps (tools/setup/*.sh):
#   apt         Debian packages (Bazel 4.2.3 + rule sets, protoc, PostgreSQL, ...);
#               TREMOLO_SETUP_SKIP_APT=1 skips it
#   go-tools    buf, protoc-gen-go, protoc-gen-go-grpc, protoc-gen-grpc-gateway,
#               protoc-gen-openapiv2, grpcurl -> .tools/bin
#   proto-deps  google/api + google/rpc protos -> .proto-deps/googleapis
#   bazel-deps  rules_go, gazelle, Go SDK, protobuf stand-in -> .bazel-deps
# Usage: tools/setup.sh [STEP...]   (default: all steps, in that order)
# Put .tools/bin on PATH to use the tools:  export PATH="$PWD/.tools/bin:$PATH"
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export ROOT

steps=("$@")
((${#steps[@]})) || steps=(apt go-tools proto-deps bazel-deps)
for step in "${steps[@]}"; do
  script="$ROOT/tools/setup/$step.sh"
  [[ -f "$script" ]] || { echo "[setup] unknown step: $step" >&2; exit 2; }
  bash "$script"
done
[[ -n "${TREMOLO_SETUP_QUIET:-}" ]] || echo "[setup] ready (${steps[*]})" >&2
