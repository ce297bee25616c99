#!/usr/bin/env bash
# Starts dockerd in the background unless an engine already answers, then waits for it.
# Log: $DOCKERD_LOG (default /var/log/dockerd.log); pid file: /var/run/docker.pid (dockerd's own).
set -euo pipefail

if [[ $EUID -ne 0 ]] && ! docker info >/dev/null 2>&1; then
  command -v sudo >/dev/null || { echo "start-docker: run as root to start dockerd" >&2; exit 1; }
  exec sudo -E bash "$0" "$@"
fi

log_file=${DOCKERD_LOG:-/var/log/dockerd.log}
pid_file=/var/run/docker.pid
timeout_seconds=${DOCKERD_START_TIMEOUT:-60}

if docker info >/dev/null 2>&1; then
  exit 0
fi

dockerd_bin=$(command -v dockerd || true)
[[ -n $dockerd_bin ]] || { echo "start-docker: dockerd not found; run scripts/install-prereqs.sh first" >&2; exit 1; }

# A pid file left by a dockerd that still runs means it is starting; just wait for it.
if [[ -f $pid_file ]] && kill -0 "$(cat "$pid_file")" 2>/dev/null; then
  echo "start-docker: dockerd (pid $(cat "$pid_file")) is already starting; waiting"
else
  echo "start-docker: starting dockerd (log: $log_file)"
  mkdir -p "$(dirname "$log_file")"
  # setsid: the engine must outlive the shell, test run or CI step that started it.
  setsid "$dockerd_bin" --pidfile "$pid_file" >>"$log_file" 2>&1 </dev/null &
fi

for ((i = 0; i < timeout_seconds * 4; i++)); do
  if docker info >/dev/null 2>&1; then
    echo "start-docker: engine ready (pid $(cat "$pid_file" 2>/dev/null || echo '?'))"
    exit 0
  fi
  sleep 0.25
done

echo "start-docker: dockerd did not answer within ${timeout_seconds}s; last lines of $log_file:" >&2
tail -n 20 "$log_file" >&2 || true
exit 1
