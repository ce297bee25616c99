#!/usr/bin/env bash
# The README's first command: the whole gitops-lite pipeline on a local sandbox (a registry,
# an sshd "VM" on 127.0.0.1, app and infra repos with bare remotes, a stand-in for GitHub),
# three releases through the committed action bundles. Safe to run again: it resets its own
# state (.sandbox/) first.
#
#   bash scripts/sandbox.sh           run the three releases, then remove everything it started
#   bash scripts/sandbox.sh --keep    leave the stack, the VM and the registry running afterwards
#   bash scripts/sandbox.sh --down    remove a kept or interrupted sandbox
#   bash scripts/sandbox.sh --swarm   the same three releases with orchestrator: swarm, on a
#                                     single-node Docker Swarm of this engine (made by the sandbox
#                                     if the engine is in none, and left again); combines with --keep
#
# Needs a Debian/Ubuntu machine with Node 20+, as root or with sudo (sshd and dockerd run as root).
set -euo pipefail
cd "$(dirname "$0")/.."

case " $* " in
  *" -h "* | *" --help "*)
    # The header above, without installing anything.
    sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'
    exit 0
    ;;
esac

if [[ $EUID -ne 0 ]]; then
  command -v sudo >/dev/null || { echo "sandbox: run as root (sudo is not installed)" >&2; exit 1; }
  # env PATH=...: keep the caller's node and pnpm (sudo's secure_path would drop them).
  exec sudo env "PATH=$PATH" bash "$0" "$@"
fi

step() { printf '== %s\n' "$*"; }

if [[ " $* " == *" --down "* ]]; then
  # Tearing down needs Docker and the node modules, nothing new.
  exec pnpm exec tsx scripts/sandbox.ts "$@"
fi

step "prerequisites (Docker engine, Compose v2, registry, sshd, busybox, pnpm)"
bash scripts/install-prereqs.sh
bash scripts/start-docker.sh

step "node modules"
pnpm install --frozen-lockfile --reporter=silent

exec pnpm exec tsx scripts/sandbox.ts "$@"
