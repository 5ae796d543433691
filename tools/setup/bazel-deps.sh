#!/usr/bin/env bash
# Everything Bazel needs, without http_archive downloads (Bazel 4.2.3 here cannot
# reach GitHub or mirrors), into .bazel-deps/ (git-ignored and bazel-ignored):
#   * rules_go and gazelle source from the Go module proxy, patched (tools/bazel-support/patches)
#   * the Go SDK (module golang.org/toolchain) with exec bits and precompiled std
#   * an @com_google_protobuf stand-in: Debian protoc + well-known .proto files
#   * .bazel-deps/bazelrc: GOPROXY/GOSUMDB of this machine for go_repository fetches
# Versions: tools/versions.env. A no-op (stamp check) when nothing changed.
# Bazel itself and the other rule sets are Debian packages (tools/setup/apt.sh).
set -euo pipefail
ROOT="${ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}"
source "$ROOT/tools/setup/lib.sh"

SUPPORT="$ROOT/tools/bazel-support"
DEPS="$BAZEL_DEPS_DIR"
ARCH="$(host_goarch)"

# --- machine-specific Bazel flags (try-imported by .bazelrc) --------------------
# go_repository's fetch_repo only sees GOPROXY/GOSUMDB if they are in the repo env.
# Values come from `go env`: never write a proxy host into the repository.
write_bazelrc() {
  local goproxy gosumdb content
  { read -r goproxy; read -r gosumdb; } < <(go_outside env GOPROXY GOSUMDB)
  content="build --repo_env=GOPROXY=$goproxy
build --repo_env=GOSUMDB=$gosumdb"
  [[ -f "$DEPS/bazelrc" && "$(<"$DEPS/bazelrc")" == "$content" ]] || printf '%s\n' "$content" >"$DEPS/bazelrc"
}

# --- stamp: skip the rest if nothing changed ------------------------------------
stamp="$( { echo "$RULES_GO_VERSION $GAZELLE_VERSION $BAZEL_GO_VERSION $ARCH"; \
            find "$SUPPORT/patches" "$SUPPORT/stubs" "${BASH_SOURCE[0]}" -type f -print0 | sort -z | xargs -0 sha256sum; } \
          | sha256sum | cut -c1-16)"
if [[ -f "$DEPS/.stamp" && "$(<"$DEPS/.stamp")" == "$stamp" ]]; then
  write_bazelrc
  exit 0
fi

for tool in patch gcc /usr/share/bazel/rules/java /usr/include/google/protobuf/any.proto; do
  command -v "$tool" >/dev/null 2>&1 || [[ -e "$tool" ]] \
    || die "$tool missing: run tools/setup.sh (apt step) first"
done

rm -rf "$DEPS"; mkdir -p "$DEPS"

# --- rules_go (patched for Go >= 1.20 SDKs and wasip1) -----------------------------
log "bazel: rules_go $RULES_GO_VERSION"
copy_module "github.com/bazelbuild/rules_go@$RULES_GO_VERSION" "$DEPS/rules_go"
patch -s -d "$DEPS/rules_go" -p1 <"$SUPPORT/patches/rules_go-$RULES_GO_VERSION.patch"

# --- gazelle (patched; vendor/ restored because module zips drop it and
#     go_repository_tools builds gazelle in GOPATH mode) --------------------------
log "bazel: gazelle $GAZELLE_VERSION"
copy_module "github.com/bazelbuild/bazel-gazelle@$GAZELLE_VERSION" "$DEPS/gazelle"
patch -s -d "$DEPS/gazelle" -p1 <"$SUPPORT/patches/gazelle-$GAZELLE_VERSION.patch"
(cd "$DEPS/gazelle" && go_quiet env -u GOFLAGS GOTOOLCHAIN=local go mod vendor)

# --- Go SDK from the module proxy, exec bits restored, std precompiled -----------
log "bazel: Go $BAZEL_GO_VERSION SDK (linux-$ARCH), precompiling std"
copy_module "golang.org/toolchain@v0.0.1-go$BAZEL_GO_VERSION.linux-$ARCH" "$DEPS/go"
chmod +x "$DEPS"/go/bin/* "$DEPS"/go/pkg/tool/*/*
# Precompiled std in GOROOT/pkg (like Go <= 1.19 distributions) lets rules_go skip
# its GoStdlib action (about 100 s on 2 cores) for the host configuration.
(cd "$DEPS/go" && env -u GOFLAGS GOROOT="$DEPS/go" GOTOOLCHAIN=local GODEBUG=installgoroot=all \
   CGO_ENABLED=1 ./bin/go install std)

# --- @com_google_protobuf stand-in: Debian protoc + well-known .proto files -------
mkdir -p "$DEPS/com_google_protobuf/google/protobuf"
cp "$SUPPORT"/stubs/com_google_protobuf/* "$DEPS/com_google_protobuf/"
cp /usr/include/google/protobuf/*.proto "$DEPS/com_google_protobuf/google/protobuf/"

write_bazelrc
echo "$stamp" >"$DEPS/.stamp"
log "bazel: done ($DEPS)"
