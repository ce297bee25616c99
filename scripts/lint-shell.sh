#!/usr/bin/env bash
# Runs shellcheck (Debian's shellcheck package; scripts/install-prereqs.sh installs it) over every
# shell script of the repository: the scripts, the bench and the host-side library.
set -euo pipefail
cd "$(dirname "$0")/.."

command -v shellcheck >/dev/null || {
  echo "lint-shell: shellcheck is not installed; run 'bash scripts/install-prereqs.sh' or 'apt-get install shellcheck'" >&2
  exit 1
}
mapfile -t files < <(find . \( -name node_modules -o -name dist -o -name .git \) -prune -o -name '*.sh' -print | sort)
shellcheck "${files[@]}"
