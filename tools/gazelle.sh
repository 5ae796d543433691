#!/usr/bin/env bash
# Regenerate Bazel files: deps.bzl from go.mod (the whole module graph, pruned of
# modules no longer needed), then every BUILD.bazel. Run after changing Go code,
# imports or go.mod. Per-repository tweaks belong in `# gazelle:repository ...`
# directives in WORKSPACE or in the update-repos flags below, so they survive re-runs.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
"$root/tools/setup.sh" apt bazel-deps
echo "[gazelle] deps.bzl from go.mod" >&2
bazel run //:gazelle -- update-repos -from_file=go.mod -to_macro=deps.bzl%go_dependencies \
  -prune -build_file_proto_mode=disable_global
echo "[gazelle] BUILD files" >&2
bazel run //:gazelle
