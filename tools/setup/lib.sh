# Shared helpers for tools/setup.sh and its pieces (sourced, not executed).
# Expects ROOT to be set to the repository root.

# shellcheck source=../versions.env
source "$ROOT/tools/versions.env"

TOOLS_DIR="$ROOT/.tools"            # Go tools: .tools/bin, stamps in .tools/stamps
PROTO_DEPS_DIR="$ROOT/.proto-deps"  # third-party .proto files (buf workspace module)
BAZEL_DEPS_DIR="$ROOT/.bazel-deps"  # rules_go, gazelle, Go SDK, protobuf stand-in

log() { printf '[setup] %s\n' "$*" >&2; }
die() { printf '[setup] ERROR: %s\n' "$*" >&2; exit 1; }

# Run the go command outside any module (so the project's go.mod, which other
# people edit concurrently, can neither break nor be changed by set-up steps).
go_outside() { (cd / && env -u GOFLAGS GO111MODULE=on go "$@"); }

# mod_dir MODULE@VERSION -> prints the extracted (read-only) module directory in GOMODCACHE.
mod_dir() {
  local dir
  dir="$(go_quiet go_outside mod download -json "$1" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",\{0,1\}$/\1/p')"
  [[ -n "$dir" && -d "$dir" ]] || die "go mod download $1 failed"
  printf '%s\n' "$dir"
}

# copy_module MODULE@VERSION DEST: writable copy of a module's files.
copy_module() {
  local dir; dir="$(mod_dir "$1")"
  cp -r "$dir" "$2"
  chmod -R u+w "$2"
}

# gomod_version MODULE FALLBACK: the version go.mod requires for MODULE (parsed
# from the file: fast, and works while go.mod is mid-edit), else FALLBACK.
gomod_version() {
  local v=""
  if [[ -f "$ROOT/go.mod" ]]; then
    v="$(awk -v m="$1" '
      /^[[:space:]]*require[[:space:]]*\(/ { inblock = 1; next }
      inblock && /^[[:space:]]*\)/        { inblock = 0; next }
      inblock && $1 == m                  { print $2; exit }
      $1 == "require" && $2 == m          { print $3; exit }
    ' "$ROOT/go.mod")"
  fi
  printf '%s\n' "${v:-$2}"
}

# Host architecture in Go's spelling (amd64, arm64), without starting the go command.
host_goarch() {
  case "$(uname -m)" in
    x86_64) echo amd64 ;;
    aarch64|arm64) echo arm64 ;;
    *) go env GOHOSTARCH ;;
  esac
}

# go_quiet CMD...: run CMD with the go command's "go: downloading ..." lines dropped
# from its stderr (everything else, and CMD's exit status, kept).
go_quiet() {
  local status=0
  { "$@" 2>&1 1>&3 3>&- | { grep -v '^go: downloading' || true; } >&2
    status=${PIPESTATUS[0]}; } 3>&1 || true
  return "$status"
}
