#!/usr/bin/env bash
# Debian packages listed in APT_PACKAGES (tools/versions.env): installed only when
# one is missing ("apt-get update" only then). TREMOLO_SETUP_SKIP_APT=1 skips this step.
set -euo pipefail
ROOT="${ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}"
source "$ROOT/tools/setup/lib.sh"

if [[ "${TREMOLO_SETUP_SKIP_APT:-0}" == 1 ]]; then
  log "apt: skipped (TREMOLO_SETUP_SKIP_APT=1)"
  exit 0
fi

read -r -a wanted <<<"$APT_PACKAGES"
missing=()
for pkg in "${wanted[@]}"; do
  status="$(dpkg-query -W -f='${db:Status-Abbrev}' "$pkg" 2>/dev/null || true)"
  [[ "$status" == "ii"* ]] || missing+=("$pkg")
done
((${#missing[@]} == 0)) && exit 0

log "apt: installing ${missing[*]}"
SUDO=""; [[ $(id -u) -eq 0 ]] || SUDO=sudo
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
log "apt: done"
