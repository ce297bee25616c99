#!/usr/bin/env bash
# Runs every test on a fresh Debian/Ubuntu machine with Node 20+: installs what is missing
# (apt packages, Compose v2, pnpm, node modules), starts the Docker engine if none answers,
# then typecheck, lint, the dist/ check and every jest project (unit, integration, e2e).
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n== %s\n' "$*"; }

step "prerequisites"
bash scripts/install-prereqs.sh
bash scripts/start-docker.sh

step "node modules"
pnpm install --frozen-lockfile --reporter=silent

step "typecheck"
pnpm run --silent typecheck

step "lint"
pnpm run --silent lint

step "dist/ matches the source"
pnpm run --silent check-dist

step "tests"
# Integration suites share one Docker engine and two cores: run suites one at a time.
# Jest's ES module support is Node's experimental vm modules; its warning says nothing new.
node --experimental-vm-modules --disable-warning=ExperimentalWarning node_modules/jest/bin/jest.js --runInBand "$@"
