#!/usr/bin/env bash
# Runs every benchmark (issues 6 and 12) in order and prints their markdown tables on stdout (progress
# goes to stderr), each under the exact command that produced it, with the machine's load.
#   bash bench/run-all.sh            # the figures in BENCHMARKS.md (about 20 minutes on 2 cores)
#   bash bench/run-all.sh --quick    # one or two repetitions each: checks that the harness works
# Prerequisites (see bench/README.md): scripts/install-prereqs.sh, scripts/start-docker.sh, pnpm install.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "${1:-}" = --quick ]; then
  startup=3 engine=3 e2e=2 deploys=1 bumps=1
else
  startup=20 engine=30 e2e=10 deploys=5 bumps=5
fi

bench() {
  local title=$1
  shift
  printf '\n## %s\n\n' "$title"
  # shellcheck disable=SC2016 # the backticks are Markdown's
  printf 'Command: `pnpm exec tsx %s`  \n' "$*"
  printf 'Load average before (1, 5, 15 min, %s cores): %s\n\n' "$(nproc)" "$(uptime | sed 's/.*load average: //')"
  pnpm exec tsx "$@"
}

printf '# gitops-lite benchmarks\n\n'
printf -- '- date: %s\n' "$(date -u '+%Y-%m-%d %H:%M UTC')"
printf -- '- commit: %s\n' "$(git rev-parse --short HEAD)$(git diff --quiet HEAD -- actions packages dist bench || echo ' (with uncommitted changes)')"
# shellcheck source=/dev/null # the OS's release file
printf -- '- machine: %s cores, %s MiB RAM, %s\n' "$(nproc)" "$(free -m | awk '/^Mem:/ { print $2 }')" "$(. /etc/os-release && echo "$PRETTY_NAME")"
printf -- '- node %s, Docker engine %s, Compose %s\n' "$(node --version)" "$(docker info --format '{{.ServerVersion}}')" "$(docker compose version --short)"

bench '1. Start-up of each bundled action, and bundle size' bench/startup.ts --runs "$startup"
bench "2. bump-image-tag's edit engine on 10, 100 and 1,000 services, and the end-to-end action run" bench/edit-engine.ts --runs "$engine" --e2e-runs "$e2e"
bench '3. ssh-surgical-deploy: one changed service of ten, against RA-001 over plain ssh' bench/deploy-surgical-vs-full.ts --runs "$deploys"
bench '4. Downtime during the deploy of one service' bench/downtime.ts --runs "$deploys"
bench '5. Ten concurrent bumps against one bare repository' bench/concurrent-bumps.ts --rounds "$bumps"
bench '6. Two hosts: one at a time and in parallel, against one host' bench/multi-host.ts --runs "$deploys"
bench '8a. Deploy speed (issue 12), best case: the busybox stack' bench/deploy-surgical-vs-full.ts --runs "$deploys" --stack busybox --approaches a,e,f
bench '8b. Deploy speed (issue 12): the realistic stack' bench/deploy-surgical-vs-full.ts --runs "$deploys" --stack realistic --approaches a,e,f
printf '\nLoad average at the end: %s\n' "$(uptime | sed 's/.*load average: //')"
