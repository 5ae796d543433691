#!/usr/bin/env bash
# Runs every test of the repository, after installing what they need
# (tools/setup.sh). This is the README's test command (`make test`) and what
# .ci/run calls. Steps, in order, each failing the run:
#   1. set-up                      tools/setup.sh
#   2. contracts                   buf lint; generated code current
#   3. go vet + go test            every package, with the race detector
#   4. bazel build + test          //... for the host, and the services and
#                                  binaries for linux/arm64
# TREMOLO_TEST_SKIP_BAZEL=1 skips step 4 (a quick local loop).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
step() { printf '\n=== %s\n' "$*" >&2; }

step "set-up"
bash tools/setup.sh
export PATH="$ROOT/.tools/bin:$PATH"

step "buf lint"
buf lint
step "generated code is current"
bash tools/check-generated.sh

step "go vet"
go vet ./...
step "go test"
go test -race -count=1 ./...

if [[ -z "${TREMOLO_TEST_SKIP_BAZEL:-}" ]]; then
  step "bazel build //..."
  bazel build //...
  step "bazel build --config=linux_arm64 (services and binaries)"
  bazel build --config=linux_arm64 //services/... //cmd/...
  step "bazel test //..."
  bazel test //...
fi
step "all tests passed"
