#!/usr/bin/env bash
# Bazel's half of "same sources, same digests on a clean checkout": clones one
# commit twice, at two different paths, builds //tools/publish:binaries and
# publishes an OCI layout in each with its own cold Bazel output base, and
# compares binaries, summaries and layouts byte for byte. (go test covers the
# go build path: TestReproducibleFromCleanCheckouts.) Takes two cold builds,
# about 4 minutes each on 2 cores; the clones share this checkout's
# .bazel-deps and the Go module cache.
#
#   bash tools/publish/repro-bazel.sh [COMMIT]     (default HEAD)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
rev="$(git -C "$ROOT" rev-parse "${1:-HEAD}")"
work="$(mktemp -d)"
cleanup() { chmod -R u+w "$work" 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
bash "$ROOT/tools/setup.sh" apt bazel-deps >/dev/null
for d in a nested/b; do
  dir="$work/$d" ob="$work/output-base-${d//\//-}" tag="${d//\//-}"
  mkdir -p "$(dirname "$dir")"
  git clone -q "$ROOT" "$dir"
  git -C "$dir" checkout -q --detach "$rev"
  ln -s "$ROOT/.bazel-deps" "$dir/.bazel-deps"
  start=$(date +%s)
  (cd "$dir" && bazel --output_base="$ob" build //tools/publish:binaries >"$work/build-$tag.log" 2>&1) \
    || { tail -30 "$work/build-$tag.log"; exit 1; }
  echo "$d: cold bazel build //tools/publish:binaries: $(( $(date +%s) - start )) s"
  (cd "$dir" && bazel --output_base="$ob" run //:publish -- --revision "$rev" -q \
     --layout "$work/oci-$tag" --summary "$work/summary-$tag.json" >"$work/run-$tag.log" 2>&1) \
    || { tail -30 "$work/run-$tag.log"; exit 1; }
  (cd "$dir" && cd "$(bazel --output_base="$ob" info bazel-bin 2>/dev/null)/tools/publish/binaries" \
     && sha256sum $(ls | grep -v '\.deps$')) >"$work/binaries-$tag.sha256"
  (cd "$dir" && bazel --output_base="$ob" shutdown)
done
cmp "$work/binaries-a.sha256" "$work/binaries-nested-b.sha256" && echo "binaries: identical ($(wc -l <"$work/binaries-a.sha256") files)"
cmp "$work/summary-a.json" "$work/summary-nested-b.json" && echo "digests: identical"
diff -r "$work/oci-a" "$work/oci-nested-b" && echo "OCI layouts: identical, byte for byte"
