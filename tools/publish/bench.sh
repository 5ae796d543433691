#!/usr/bin/env bash
# Measures docs/benchmarks.md "## Images": the time to publish every service
# for linux/amd64 + linux/arm64 with warm caches, against the time to just
# build those binaries, in the same run; and each image's size.
#
#   bash tools/publish/bench.sh            # needs docker-registry (tools/setup.sh)
#
# A registry (Debian's docker-registry) runs on a free loopback port for the
# duration and is stopped by its PID. Every step is timed once after a
# warm-up; each push goes to a new repository path, so nothing is in the
# registry yet unless the step says so. Each figure is the median of 3 runs.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
bash tools/setup.sh apt >/dev/null

work="$(mktemp -d)"
reg_pid=""
cleanup() {
  [[ -n "$reg_pid" ]] && kill "$reg_pid" 2>/dev/null && wait "$reg_pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

port=5100
while (echo >"/dev/tcp/127.0.0.1/$port") 2>/dev/null; do port=$((port + 1)); done
cat >"$work/registry.yml" <<EOF
version: 0.1
log: {level: error, accesslog: {disabled: true}}
storage: {filesystem: {rootdirectory: $work/registry}}
http: {addr: 127.0.0.1:$port}
EOF
docker-registry serve "$work/registry.yml" >"$work/registry.log" 2>&1 &
reg_pid=$!
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/v2/" >/dev/null && break; sleep 0.1; done
repo="127.0.0.1:$port"

# seconds CMD...: run CMD (output to $work/last.log), print its wall time.
seconds() {
  local start end
  start=$(date +%s.%N)
  "$@" >"$work/last.log" 2>&1 || { cat "$work/last.log" >&2; exit 1; }
  end=$(date +%s.%N)
  awk -v s="$start" -v e="$end" 'BEGIN { printf "%.1f", e - s }'
}

# median3 CMD...: seconds of 3 runs of CMD, the median; "{}" in CMD becomes
# the run number (1-3), for a fresh repository per run.
median3() {
  local i times=()
  for i in 1 2 3; do
    times+=("$(seconds "${@//\{\}/$i}")")
  done
  printf '%s\n' "${times[@]}" | sort -n | sed -n 2p
}

echo "[bench] warming up (Bazel outputs, Go build cache)" >&2
bazel build //tools/publish:publish >/dev/null 2>&1
go build -o "$work/publish" ./tools/publish
"$work/publish" --build=go --bin-dir "$work/warm" -q >/dev/null

services=$(ls "$work/warm/linux_amd64" | wc -l)
gobuild() {
  for arch in amd64 arm64; do
    CGO_ENABLED=0 GOOS=linux GOARCH=$arch GOFLAGS= go build -trimpath -buildvcs=false "-ldflags=-s -w" \
      -o "$1/linux_$arch/" ./services/*/cmd/* ./cmd/tremolo
  done
}

echo "[bench] measuring" >&2
t_gobuild=$(median3 gobuild "$work/gobuild{}")
t_gopub=$(median3 "$work/publish" --build=go --repo "$repo/go{}" --revision bench)
t_gopub2=$(median3 "$work/publish" --build=go --repo "$repo/go1" --revision bench)
t_bbuild=$(median3 bazel build //tools/publish:binaries)
t_bpub=$(median3 bazel run //:publish -- --repo "$repo/bazel{}" --revision bench)
cp "$work/last.log" "$work/bazel-publish.log"
t_bpub2=$(median3 bazel run //:publish -- --repo "$repo/bazel1" --revision bench)
t_blayout=$(median3 bazel run //:publish -- --layout "$work/oci{}" --tarball "$work/images{}.tar" --revision bench)

cat <<EOF

$services services x 2 platforms (linux/amd64, linux/arm64), $(nproc) cores, $(go env GOVERSION)

| step | seconds (median of 3) |
|---|---|
| go build of every binary, both platforms (compile cached, links) | $t_gobuild |
| \`publish --build=go --repo\`: the same go build + images + SBOMs + push to an empty repository | $t_gopub |
| the same again (the registry has every blob) | $t_gopub2 |
| \`bazel build //tools/publish:binaries\`, up to date | $t_bbuild |
| \`bazel run //:publish -- --repo\` (Bazel up to date) to an empty repository | $t_bpub |
| the same again (the registry has every blob) | $t_bpub2 |
| \`bazel run //:publish -- --layout --tarball\` (no registry) | $t_blayout |

Publishing with go build takes $(awk -v a="$t_gopub" -v b="$t_gobuild" 'BEGIN { printf "%.2f", a / b }') times as long as just building
the binaries; with Bazel, publishing adds $(awk -v a="$t_bpub" -v b="$t_bbuild" 'BEGIN { printf "%.1f", a - b }') s to a build that is up to date.

Images built by Bazel (compressed size: what a pull downloads; the base layer
is shared by all of them):

| service | linux/amd64 | linux/arm64 |
|---|---|---|
EOF
# The publisher's table: "name  ref" then "  platform digest  N.N MB" lines.
awk '/^[a-z]+ +[^ ]+@sha256:/ { name = $1 } /^  linux\/amd64/ { a = $3 " " $4 } /^  linux\/arm64/ { printf "| %s | %s | %s |\n", name, a, $3 " " $4 }' "$work/bazel-publish.log"
printf '\nOCI layout tarball of all of them: %s MB\n' "$(( $(stat -c %s "$work/images1.tar") / 1000000 ))"
