#!/usr/bin/env bash
# Fails when the committed generated files (gen/, docs/errors.md,
# docs/configuration.md) differ from what their generators produce now. Generates into a temporary
# directory, so it neither needs a clean work tree nor changes it.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
.tools/bin/buf generate -o "$tmp"
status=0
if ! diff -r -u -x BUILD.bazel gen "$tmp/gen" >"$tmp/gen.diff"; then
  echo "generated code in gen/ is stale: run 'make generate' and commit the result" >&2
  head -n 60 "$tmp/gen.diff" >&2
  status=1
fi
if ! diff -u docs/errors.md "$tmp/docs/errors.md" >"$tmp/docs.diff"; then
  echo "docs/errors.md is stale: run 'make generate' and commit the result" >&2
  head -n 40 "$tmp/docs.diff" >&2
  status=1
fi
go run ./tools/configdoc >"$tmp/configuration.md"
if ! diff -u docs/configuration.md "$tmp/configuration.md" >&2; then
  echo "docs/configuration.md is stale: run 'go run ./tools/configdoc > docs/configuration.md'" >&2
  status=1
fi
[[ $status -eq 0 ]] && echo "generated code is current" >&2
exit $status
