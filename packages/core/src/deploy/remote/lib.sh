# shellcheck shell=sh
# Lists (services, files, container ids) are space-separated words split on purpose where they
# are used unquoted (set -f turns globbing off); `a && b || gl_fail ...` fails when either step does.
# shellcheck disable=SC2086,SC2015
# Exit codes are the GL_EXIT_* variables set before the library from ExitCode (index.ts); the
# words after $GL_MARK on an event line are the ones index.ts lists.
set -u
set -f
# A relative remote-dir is relative to the login's home directory, as scp would take it.
case $GL_DIR in /*) ;; *) GL_DIR="$HOME/$GL_DIR" ;; esac
GL_STATE="$GL_DIR/.gitops-lite"
GL_CONTAINER_FORMAT='{"id":{{json .Id}},"name":{{json .Name}},"service":{{json (index .Config.Labels "com.docker.compose.service")}},"oneoff":{{json (index .Config.Labels "com.docker.compose.oneoff")}},"configHash":{{json (index .Config.Labels "com.docker.compose.config-hash")}},"image":{{json .Config.Image}},"state":{{json .State.Status}},"health":{{with index .State "Health"}}{{json .Status}}{{else}}null{{end}},"exitCode":{{.State.ExitCode}},"restartPolicy":{{json .HostConfig.RestartPolicy.Name}}}'
# docker inspect templates fail on a missing map key, hence 'index' for the optional Health.
# The restart policy gets a trailing dot so an empty one still makes a word.
GL_STATUS_FORMAT='{{.State.Status}} {{with index .State "Health"}}{{.Status}}{{else}}none{{end}} {{.State.ExitCode}} {{.HostConfig.RestartPolicy.Name}}. {{.RestartCount}} {{.State.StartedAt}}'
GL_STEADY_SECONDS=5
GL_POLL_SECONDS=10
GL_LOG_LINES=40
GL_NL='
'
GL_FAILED=
GL_WATCH=

gl_event() { printf '%s %s\n' "$GL_MARK" "$*"; }
gl_fail() { gl_code=$1; shift; printf 'gitops-lite: %s\n' "$*" >&2; exit "$gl_code"; }

# Tools the deploy needs, without asking docker (cheap: the shell's own lookups).
gl_check_tools() {
  gl_user=$(id -un 2>/dev/null || echo "this user")
  command -v docker >/dev/null 2>&1 || gl_fail "$GL_EXIT_MISSING_TOOL" "docker is not installed on the host, or not on the PATH of $gl_user"
  # A hung registry or engine must not hold the lock forever.
  GL_TIMEOUT=
  if command -v timeout >/dev/null 2>&1; then GL_TIMEOUT="timeout $GL_COMMAND_TIMEOUT"; fi
  for gl_tool in base64 sha256sum flock mktemp awk; do
    command -v "$gl_tool" >/dev/null 2>&1 || gl_fail "$GL_EXIT_MISSING_TOOL" "$gl_tool is not installed on the host"
  done
}

gl_compose_v2() { GL_COMPOSE_VERSION=$(gl_docker compose version --short 2>/dev/null) && GL_COMPOSE=v2; }
gl_compose_v1() {
  command -v docker-compose >/dev/null 2>&1 || return 1
  GL_COMPOSE=v1
  GL_COMPOSE_VERSION=$($GL_TIMEOUT docker-compose version --short 2>/dev/null)
  return 0
}

# The tools, the engine, and which compose binary runs the deploy (GL_COMPOSE) at which version
# (GL_COMPOSE_VERSION). The engine is asked while compose is: each docker call costs 0.1-0.6 s
# on a busy host.
gl_check_host() {
  gl_check_tools
  gl_docker version --format '{{.Server.Version}}' >/dev/null 2>&1 &
  gl_engine=$!
  gl_compose_error=
  case $GL_COMPOSE_PREF in
    'docker compose') gl_compose_v2 || gl_compose_error="'docker compose' (the Compose v2 plugin) does not work on the host" ;;
    docker-compose) gl_compose_v1 || gl_compose_error="docker-compose is not installed on the host" ;;
    *) gl_compose_v2 || gl_compose_v1 || gl_compose_error="neither 'docker compose' nor docker-compose is installed on the host" ;;
  esac
  wait "$gl_engine" ||
    gl_fail "$GL_EXIT_MISSING_TOOL" "$gl_user cannot reach the Docker engine: is dockerd running, and is $gl_user root or in the docker group?"
  [ -z "$gl_compose_error" ] || gl_fail "$GL_EXIT_MISSING_TOOL" "$gl_compose_error"
}

# Every docker call is bounded by command-timeout (when the host has timeout(1)).
gl_docker() { $GL_TIMEOUT docker "$@"; }

gl_compose() {
  if [ -n "$GL_PROJECT" ]; then set -- -p "$GL_PROJECT" "$@"; fi
  if [ "$GL_COMPOSE" = v2 ]; then gl_docker compose "$@"; else $GL_TIMEOUT docker-compose "$@"; fi
}

# Compose with this stack's files, read from the current directory; relative paths in them
# resolve against the remote directory, where they are deployed.
gl_project() {
  gl_n=$#
  for gl_f in $GL_COMPOSE_FILES; do set -- "$@" -f "$gl_f"; done
  while [ "$gl_n" -gt 0 ]; do set -- "$@" "$1"; shift; gl_n=$((gl_n - 1)); done
  gl_compose --project-directory "$GL_DIR" "$@"
}

# The project name: given, else what compose v2 resolved, else compose's default for the directory.
gl_resolve_project() {
  [ -n "$GL_PROJECT" ] && return 0
  if [ "$GL_COMPOSE" = v2 ]; then
    GL_PROJECT=$(sed -n 's/^  "name": "\([a-z0-9_-]*\)",*$/\1/p' "$1" | head -n 1)
  fi
  if [ -z "$GL_PROJECT" ]; then
    # docker-compose v1 does not print the name: COMPOSE_PROJECT_NAME from the .env, else the folder's.
    GL_PROJECT=$(sed -n 's/^COMPOSE_PROJECT_NAME=//p' "$GL_DIR/.env" 2>/dev/null | tail -n 1 | tr -d '"'"'"' \r')
    [ -n "$GL_PROJECT" ] || GL_PROJECT=$(basename "$GL_DIR")
    GL_PROJECT=$(printf '%s' "$GL_PROJECT" | tr '[:upper:]' '[:lower:]' | tr -cd 'a-z0-9_-' | sed 's/^[_-]*//')
  fi
  [ -n "$GL_PROJECT" ] || gl_fail "$GL_EXIT_INVALID_FILES" "cannot tell the compose project name for $GL_DIR"
}

# flock(1) on fd 9: the kernel releases the lock when the holder dies, so a dead run never
# leaves a stale lock behind. Polls so busybox flock (no -w) works too. The file is opened
# read-only (flock needs no more), so opening it writes nothing, wherever it points.
gl_lock() {
  exec 9<"$GL_STATE/lock" || gl_fail "$GL_EXIT_HOST_ERROR" "cannot open $GL_STATE/lock"
  flock -n "$1" 9 && return 0
  gl_event lock-wait "$(head -n 1 "$GL_STATE/lock.owner" 2>/dev/null)"
  gl_left=$GL_LOCK_TIMEOUT
  until flock -n "$1" 9; do
    if [ "$gl_left" -le 0 ]; then
      gl_event lock-timeout "$(head -n 1 "$GL_STATE/lock.owner" 2>/dev/null)"
      exit "$GL_EXIT_LOCK_TIMEOUT"
    fi
    sleep 1
    gl_left=$((gl_left - 1))
  done
}

# --- links: the deploy never writes through a symbolic link ---------------------------------
# Whoever can write in a folder under remote-dir (a container with a read-write bind mount of
# it, another user) could point a link anywhere, and the deploy user is often root.

# Prints the first symbolic link on the way from remote-dir to the file $1 (itself included);
# fails when there is none. remote-dir itself may be a link: the user chose it.
gl_first_link() {
  gl_p=$GL_DIR gl_rest=$1
  while [ -n "$gl_rest" ]; do
    gl_p="$gl_p/${gl_rest%%/*}"
    case $gl_rest in */*) gl_rest=${gl_rest#*/} ;; *) gl_rest= ;; esac
    if [ -L "$gl_p" ]; then printf '%s\n' "$gl_p"; return 0; fi
  done
  return 1
}

gl_refuse_link() {
  gl_event refused-link "$1"
  gl_fail "$GL_EXIT_REFUSED_LINK" "$1 is a symbolic link, and the deploy never writes through one: replace it with the real file or folder (or remove it), then rerun"
}

# Refuses (before anything changes) a link at the state folder or a file in it, or on the way
# to an uploaded file.
gl_check_links() {
  for gl_p in "$GL_STATE" "$GL_STATE/runs" "$GL_STATE/lock" "$GL_STATE/lock.owner" "$GL_STATE/state" "$GL_STATE/generation" "$GL_STATE/audit.log"; do
    [ ! -L "$gl_p" ] || gl_refuse_link "$gl_p"
  done
  for gl_f in $GL_FILES; do
    gl_link=$(gl_first_link "$gl_f") && gl_refuse_link "$gl_link"
  done
  return 0
}

# --- the state folder: the deploy user's alone (mode 0700, files 0600) ----------------------
# Another local user could otherwise read the record and the run logs, or hold the lock and
# block every deploy.

# Also fixes the modes an older version left (0755 and 0644).
gl_secure_state() {
  chmod 700 "$GL_STATE" "$GL_STATE/runs" || gl_fail "$GL_EXIT_HOST_ERROR" "cannot set the mode of $GL_STATE"
  for gl_f in lock lock.owner state generation audit.log; do
    if [ -f "$GL_STATE/$gl_f" ]; then chmod 600 "$GL_STATE/$gl_f" || gl_fail "$GL_EXIT_HOST_ERROR" "cannot set the mode of $GL_STATE/$gl_f"; fi
  done
  find "$GL_STATE/runs" -mindepth 2 -maxdepth 2 -name log -type f -exec chmod 600 {} + 2>/dev/null
  return 0
}

# Creates $GL_STATE/$1 when there is none: a new file from mktemp (mode 0600) hard-linked to
# the name, which fails rather than follow a link planted there (and two runs cannot each
# create their own lock file).
gl_state_file() {
  [ -f "$GL_STATE/$1" ] && [ ! -L "$GL_STATE/$1" ] && return 0
  gl_tmp=$(mktemp "$GL_STATE/.$1.XXXXXX") || return 1
  ln "$gl_tmp" "$GL_STATE/$1" 2>/dev/null
  rm -f "$gl_tmp"
  [ -f "$GL_STATE/$1" ] && [ ! -L "$GL_STATE/$1" ]
}

# stdin -> $GL_STATE/$1: written to a new file from mktemp in the same folder, then renamed
# over the name (a rename replaces a link, it never writes through it).
gl_state_write() {
  # mv would move the file into a folder of that name.
  [ ! -d "$GL_STATE/$1" ] || [ -L "$GL_STATE/$1" ] || return 1
  gl_tmp=$(mktemp "$GL_STATE/.$1.XXXXXX") || return 1
  if cat > "$gl_tmp" && mv -f "$gl_tmp" "$GL_STATE/$1"; then return 0; fi
  rm -f "$gl_tmp"
  return 1
}

# Reads .gitops-lite/generation into GL_GENERATION. A missing file is generation 0. A damaged
# one (empty, without its newline, not a number, too long for sh arithmetic) reads as 0 too,
# and GL_GENERATION_DAMAGE says how: the deploy reports it and writes the file again instead
# of failing on it.
gl_read_generation() {
  GL_GENERATION=0 GL_GENERATION_DAMAGE=
  if [ ! -e "$GL_STATE/generation" ]; then GL_GENERATION_DAMAGE=missing; return 0; fi
  # The dot keeps the trailing newline that command substitution strips.
  gl_g=$(cat "$GL_STATE/generation" 2>/dev/null; echo .)
  gl_g=${gl_g%.}
  case $gl_g in
    '') GL_GENERATION_DAMAGE=empty; return 0 ;;
    *"$GL_NL") gl_g=${gl_g%"$GL_NL"} ;;
    *) GL_GENERATION_DAMAGE=cut-short; return 0 ;;
  esac
  case $gl_g in
    '' | *[!0-9]* | 0?*) GL_GENERATION_DAMAGE=not-a-number ;;
    ????????????????*) GL_GENERATION_DAMAGE=too-long ;;
    *) GL_GENERATION=$gl_g ;;
  esac
}

# Appends one line to audit.log; after a line cut short (a full disk, a killed write) it starts
# a new line, so the entry is not glued onto the broken one.
gl_audit() {
  gl_state_file audit.log || return 1
  if [ -s "$GL_STATE/audit.log" ] && [ -n "$(tail -c 1 "$GL_STATE/audit.log")" ]; then
    echo >> "$GL_STATE/audit.log" || return 1
  fi
  printf '%s\n' "$1" >> "$GL_STATE/audit.log"
}

# The VM's env files, base64, one line each: the runner masks every value in them before it
# shows a line from the VM (compose's and docker's errors quote them). Read in place: nothing
# is copied. Arguments: the env_file paths of the compose files (relative to remote-dir).
gl_env_files() {
  gl_event section envfiles
  for gl_e in "$GL_DIR/.env" "$@"; do
    case $gl_e in /*) ;; *) gl_e="$GL_DIR/$gl_e" ;; esac
    if [ -f "$gl_e" ]; then head -c 1048576 "$gl_e" | base64 | tr -d '\n'; echo; fi
  done
  # .<service>.env files stay on the VM by convention; any name (spaces too) is read whole.
  find "$GL_DIR" -maxdepth 1 -name '.?*.env' -exec sh -c \
    'for f; do if [ -f "$f" ]; then head -c 1048576 "$f" | base64 | tr -d "\n"; echo; fi; done' gitops-lite {} + 2>/dev/null
  return 0
}

gl_sha256() { sha256sum < "$1" 2>/dev/null | awk '{ print $1 }'; }

# One line per path: sha256:<hex>, dir, other, missing or unreadable.
gl_digest() {
  for gl_p in "$@"; do
    if [ -f "$gl_p" ]; then
      gl_d=$(gl_sha256 "$gl_p")
      if [ -n "$gl_d" ]; then echo "sha256:$gl_d"; else echo unreadable; fi
    elif [ -d "$gl_p" ]; then echo dir
    elif [ -e "$gl_p" ]; then echo other
    else echo missing
    fi
  done
}

# stdin (base64) -> $GL_STAGE/$1
gl_stage_file() {
  mkdir -p "$GL_STAGE/$(dirname "$1")" && base64 -d > "$GL_STAGE/$1" || gl_fail "$GL_EXIT_HOST_ERROR" "cannot write $GL_STAGE/$1"
}

# Lists every compose container as "project id" lines into $1, in the background: the inspection
# starts it while compose resolves the project name, and gl_containers picks the project's out.
gl_list_compose_containers() {
  gl_docker ps -a --no-trunc --filter label=com.docker.compose.project \
    --format '{{.Label "com.docker.compose.project"}} {{.ID}}' > "$1" &
  GL_LISTING=$!
}

# The project's containers from the listing in $1. Fails when docker cannot list or inspect them:
# "no containers" would plan every service as new.
gl_containers() {
  wait "$GL_LISTING" || return 1
  gl_ids=$(awk -v p="$GL_PROJECT" '$1 == p { print $2 }' "$1")
  [ -n "$gl_ids" ] || return 0
  gl_docker inspect --format "$GL_CONTAINER_FORMAT" $gl_ids 2>/dev/null
  # 1: a container went away between ps and inspect (the others are printed); more is an error.
  [ $? -le 1 ]
}

gl_service_ids() {
  gl_docker ps -aq --no-trunc --filter "label=com.docker.compose.project=$GL_PROJECT" \
    --filter "label=com.docker.compose.service=$1" --filter "label=com.docker.compose.oneoff=False"
}

# The containers a health wait or a log dump looks at: GL_WATCH (the new containers of a
# start-first rollout) when set, else every container of the service.
gl_watch_ids() {
  if [ -n "$GL_WATCH" ]; then printf '%s\n' $GL_WATCH; else gl_service_ids "$1"; fi
}

# --- inspection: read-only; files are staged in a temporary directory --------------------

gl_inspect_begin() {
  gl_check_host
  GL_STAGE=$(mktemp -d) || gl_fail "$GL_EXIT_HOST_ERROR" "mktemp -d failed on the host"
  trap 'rm -rf "$GL_STAGE"' EXIT
}

gl_inspect_report() {
  gl_check_links
  gl_env_files "$@"
  if [ -f "$GL_STATE/lock" ]; then gl_lock -s; fi
  cd "$GL_STAGE" || gl_fail "$GL_EXIT_HOST_ERROR" "cannot enter $GL_STAGE"
  if [ "$GL_COMPOSE" = v2 ]; then gl_format='--format json'; else gl_format=; fi
  gl_list_compose_containers "$GL_STAGE/.gitops-lite-listing"
  # Both at once; compose's messages are kept apart and shown once each, config's first.
  gl_project config --hash '*' > "$GL_STAGE/.gitops-lite-hashes" 2> "$GL_STAGE/.gitops-lite-hashes.err" &
  gl_hashing=$!
  gl_project config $gl_format > "$GL_STAGE/.gitops-lite-config" 2> "$GL_STAGE/.gitops-lite-config.err"
  gl_config_rc=$?
  wait "$gl_hashing"
  gl_hashes_rc=$?
  cat "$GL_STAGE/.gitops-lite-config.err" >&2
  [ "$gl_config_rc" = 0 ] || gl_fail "$GL_EXIT_INVALID_FILES" "compose rejected the files (its message is above)"
  if [ "$gl_hashes_rc" != 0 ]; then
    cat "$GL_STAGE/.gitops-lite-hashes.err" >&2
    gl_fail "$GL_EXIT_INVALID_FILES" "compose could not hash the services (its message is above)"
  fi
  gl_resolve_project "$GL_STAGE/.gitops-lite-config"
  gl_event section compose
  echo "$GL_COMPOSE"
  printf '%s\n' "$GL_COMPOSE_VERSION" | head -n 1
  gl_event section directory
  echo "$GL_DIR"
  gl_event section project
  echo "$GL_PROJECT"
  gl_event section generation
  gl_read_generation
  echo "$GL_GENERATION"
  case $GL_GENERATION_DAMAGE in '') ;; missing) echo missing ;; *) echo "damaged $GL_GENERATION_DAMAGE" ;; esac
  gl_event section config
  cat "$GL_STAGE/.gitops-lite-config"
  echo # compose v2 ends its JSON without a newline
  gl_event section hashes
  cat "$GL_STAGE/.gitops-lite-hashes"
  gl_event section containers
  gl_containers "$GL_STAGE/.gitops-lite-listing" || gl_fail "$GL_EXIT_HOST_ERROR" "docker could not list the containers of project $GL_PROJECT"
  gl_event section record
  cat "$GL_STATE/state" 2>/dev/null
  gl_event section files
  for gl_f in $GL_FILES; do gl_digest "$GL_DIR/$gl_f"; done
  gl_event section end
}

# --- apply: runs detached from the SSH session (see DETACHED_BOOTSTRAP) --------------------

gl_apply_begin() {
  # The registry logins, from the bootstrap's pipe (see DETACHED_BOOTSTRAP): kept in memory only.
  IFS= read -r GL_LOGINS || GL_LOGINS=
  GL_DOCKER_CONFIG=
  exec < /dev/null
  # The inspection this plan comes from checked the engine and compose seconds ago, and
  # GL_COMPOSE_PREF names the compose it found: not asked again (a gone engine fails the pull).
  gl_check_tools
  case $GL_COMPOSE_PREF in 'docker compose') GL_COMPOSE=v2 ;; *) GL_COMPOSE=v1 ;; esac
  gl_check_links
  GL_RUN="$GL_STATE/runs/$GL_RUN_ID"
  mkdir -p "$GL_RUN/new" || gl_fail "$GL_EXIT_HOST_ERROR" "cannot create $GL_RUN"
  gl_secure_state
  GL_STAGE="$GL_RUN/new"
  gl_state_file lock || gl_fail "$GL_EXIT_HOST_ERROR" "cannot create $GL_STATE/lock"
  gl_lock -x
  gl_event phase locked
  gl_started=$(date +%s)
  printf '%s\n' "$GL_OWNER" | gl_state_write lock.owner
  # However this script ends, the next run waiting for the lock must not be told we hold it,
  # and the registry credentials must not stay on disk. A signal ends it through the EXIT trap.
  trap 'rm -f "$GL_STATE/lock.owner"; gl_logout' EXIT
  trap 'exit "$GL_EXIT_INTERRUPTED"' INT TERM
  gl_read_generation
  if [ "$GL_GENERATION" != "$GL_EXPECT_GENERATION" ]; then
    gl_event stale "$GL_GENERATION"
    exit "$GL_EXIT_STALE_PLAN"
  fi
  echo $((GL_GENERATION + 1)) | gl_state_write generation || gl_fail "$GL_EXIT_HOST_ERROR" "cannot write $GL_STATE/generation"
  # Keep the last 10 runs (logs and backups of replaced files).
  # shellcheck disable=SC2012 # run folders are named by run ids: letters, digits and '-'
  ls -1t "$GL_STATE/runs" | tail -n +11 | while IFS= read -r gl_old; do rm -rf "$GL_STATE/runs/$gl_old"; done
}

# stdin (base64) -> $GL_RUN/$1
gl_put() { base64 -d > "$GL_RUN/$1" || gl_fail "$GL_EXIT_HOST_ERROR" "cannot write $GL_RUN/$1"; }

gl_is_secret_file() {
  case $(basename "$1") in .env | .*.env) return 0 ;; esac
  return 1
}

# Files the swap and the restore never touch: the VM's secrets, and the host's own records
# under .gitops-lite/ (the lock, the record, the append-only audit log).
gl_is_kept_file() {
  case $1 in .gitops-lite | .gitops-lite/*) return 0 ;; esac
  gl_is_secret_file "$1"
}

# Logs in to each registry of GL_LOGINS (words: host, base64 username, base64 password, ...)
# with a Docker config of its own in a private temporary folder (mktemp -d: mode 0700, outside
# remote-dir), never the user's ~/.docker. The password goes to docker on a pipe, never in argv.
gl_login() {
  [ -n "$GL_LOGINS" ] || return 0
  gl_event phase login
  GL_DOCKER_CONFIG=$(mktemp -d) || return 1
  set -- $GL_LOGINS
  GL_LOGINS=
  while [ $# -ge 3 ]; do
    gl_out=
    gl_user=$(printf '%s' "$2" | base64 -d) &&
      gl_out=$(printf '%s' "$3" | base64 -d | DOCKER_CONFIG=$GL_DOCKER_CONFIG $GL_TIMEOUT docker login --username "$gl_user" --password-stdin "$1" 2>&1) || {
      printf '%s\n' "$gl_out" >&2
      gl_event login-failed "$1"
      return 1
    }
    shift 3
  done
}

# The credentials are needed only by the pull: removed right after it (and by the EXIT trap).
gl_logout() {
  [ -z "$GL_DOCKER_CONFIG" ] || rm -rf "$GL_DOCKER_CONFIG"
  GL_DOCKER_CONFIG=
}

gl_pull() {
  [ "$GL_PULL" = 1 ] || return 0
  [ "$GL_FULL" = 1 ] || [ $# -gt 0 ] || return 0
  gl_login || { gl_logout; return 1; }
  gl_event phase pull
  (
    if [ -n "$GL_DOCKER_CONFIG" ]; then export DOCKER_CONFIG="$GL_DOCKER_CONFIG"; fi
    # `--`: service names are never read as options (both compose binaries accept it).
    cd "$GL_STAGE" && gl_project pull --quiet -- "$@"
  )
  gl_pull_rc=$?
  gl_logout
  return $gl_pull_rc
}

# Runs a service's pre-deploy command once with its new image and the service's environment
# (compose run, no dependencies started, no TTY, bounded by command-timeout), with the new files
# in place. A failure puts the previous files back and stops before any service is recreated.
gl_pre_deploy() {
  gl_service=$1
  shift
  gl_event pre-deploy "$gl_service"
  gl_name="$GL_PROJECT-$gl_service-pre-deploy-$GL_RUN_ID"
  (cd "$GL_DIR" && gl_project run --rm --no-deps -T --name "$gl_name" -- "$gl_service" "$@")
  gl_rc=$?
  # A timeout stops compose, not the container it started.
  gl_docker rm -f "$gl_name" > /dev/null 2>&1
  [ "$gl_rc" = 0 ] && return 0
  gl_event pre-deploy-failed "$gl_service" "$gl_rc"
  gl_restore || gl_finish rollback-failed "$GL_EXIT_ROLLBACK_FAILED"
  gl_finish failed "$GL_EXIT_FAILED_BEFORE_CHANGE"
}

# Backs up what will be replaced, then renames each staged file into place (atomic per file),
# listing in $GL_RUN/swapped each file it changed. A failure names the file (swap-failed).
gl_swap() {
  [ -n "$GL_FILES" ] || return 0
  gl_event phase swap
  mkdir -p "$GL_RUN/old" && : > "$GL_RUN/old.absent" && : > "$GL_RUN/swapped" || return 1
  for gl_f in $GL_FILES; do
    if gl_is_kept_file "$gl_f"; then continue; fi
    if [ -e "$GL_DIR/$gl_f" ]; then
      mkdir -p "$GL_RUN/old/$(dirname "$gl_f")" && cp -p "$GL_DIR/$gl_f" "$GL_RUN/old/$gl_f" || { gl_event swap-failed "$gl_f"; return 1; }
    else
      echo "$gl_f" >> "$GL_RUN/old.absent"
    fi
  done
  for gl_f in $GL_FILES; do
    if gl_is_kept_file "$gl_f"; then continue; fi
    # Checked again: a link may have been planted since the inspection.
    if gl_link=$(gl_first_link "$gl_f"); then
      gl_event refused-link "$gl_link"
      gl_event swap-failed "$gl_f"
      return 1
    fi
    mkdir -p "$GL_DIR/$(dirname "$gl_f")" && mv -f "$GL_STAGE/$gl_f" "$GL_DIR/$gl_f" || { gl_event swap-failed "$gl_f"; return 1; }
    echo "$gl_f" >> "$GL_RUN/swapped"
  done
}

# Puts back every file the swap changed, and only those; fails, naming each file it could not
# put back, so a rollback never brings "the previous version" up on the new files. The backup
# is renamed into place: nothing is written at a name in remote-dir where a link could wait.
gl_restore() {
  [ -s "$GL_RUN/swapped" ] || return 0
  gl_event phase restore
  gl_restore_rc=0
  while IFS= read -r gl_f; do
    if [ -e "$GL_RUN/old/$gl_f" ]; then
      mv -f "$GL_RUN/old/$gl_f" "$GL_DIR/$gl_f" || { gl_event restore-failed "$gl_f"; gl_restore_rc=1; }
    elif grep -qxF "$gl_f" "$GL_RUN/old.absent" 2>/dev/null; then
      rm -f "$GL_DIR/$gl_f" || { gl_event restore-failed "$gl_f"; gl_restore_rc=1; }
    fi
  done < "$GL_RUN/swapped"
  return $gl_restore_rc
}

# Recreates the services (stop, then start). A full deploy recreates the whole project, unless
# start-first services are rolled out apart: then the others are named (orphans are in GL_REMOVE).
gl_up() {
  if [ "$GL_FULL" = 1 ] && [ -z "$GL_START_FIRST" ]; then
    gl_event phase up
    (cd "$GL_DIR" && gl_project up -d --remove-orphans --force-recreate)
  elif [ $# -gt 0 ]; then
    gl_event phase up
    (cd "$GL_DIR" && gl_project up -d --no-deps --force-recreate -- "$@")
  fi
}

gl_remove_services() {
  for gl_s in "$@"; do
    gl_ids=$(gl_service_ids "$gl_s")
    [ -z "$gl_ids" ] || gl_docker rm -f $gl_ids >/dev/null
  done
}

# Arguments are pairs: service container-id. Tries every container; each failed removal is
# reported (docker's message, then a remove-failed event naming the service) and makes it fail.
gl_remove_containers() {
  [ $# -gt 0 ] || return 0
  gl_event phase remove
  gl_rc=0
  while [ $# -ge 2 ]; do
    if ! gl_docker rm -f "$2" >/dev/null; then
      gl_event remove-failed "$1"
      gl_rc=1
    fi
    shift 2
  done
  return "$gl_rc"
}

# rank detail signature: 0 ready, 1 running without a healthcheck (needs to stay up), 2 not yet, 3 failed
gl_status() {
  gl_ids=$(gl_watch_ids "$1") || { echo "2 docker-error -"; return; }
  [ -n "$gl_ids" ] || { echo "3 no-container -"; return; }
  gl_rank=0 gl_detail=healthy gl_sig=
  for gl_id in $gl_ids; do
    gl_line=$(gl_docker inspect --format "$GL_STATUS_FORMAT" "$gl_id" 2>/dev/null) || { gl_rank=2 gl_detail=gone; continue; }
    set -- $gl_line
    case $1/$2 in
      running/healthy) ;;
      running/unhealthy) echo "3 unhealthy -"; return ;;
      running/starting) gl_rank=2 gl_detail=starting ;;
      running/none)
        gl_sig="$gl_sig$gl_id:$5:$6,"
        if [ "$gl_rank" -lt 1 ]; then gl_rank=1 gl_detail=running; fi ;;
      exited/* | dead/*)
        case $4/$3 in
          no./0 | ./0 | on-failure./0) ;; # a one-shot job that finished
          no./* | ./*) echo "3 exited($3) -"; return ;;
          *) gl_rank=2 gl_detail="restarting" ;;
        esac ;;
      *) gl_rank=2 gl_detail="$1/$2" ;;
    esac
  done
  echo "$gl_rank $gl_detail $gl_sig-"
}

# Waits until every service is healthy (healthcheck) or has run unchanged for
# GL_STEADY_SECONDS (no healthcheck), up to GL_HEALTH_TIMEOUT; our own polling, so it
# works the same with docker-compose v1. Sets GL_FAILED to the first service that failed.
gl_wait_healthy() {
  # Each docker call of a poll gets GL_POLL_SECONDS, not command-timeout, so a hung engine cannot
  # hold the wait far past health-timeout; a call that times out counts as "not ready yet".
  gl_saved_timeout=$GL_TIMEOUT
  [ -z "$GL_TIMEOUT" ] || GL_TIMEOUT="timeout $GL_POLL_SECONDS"
  gl_poll_healthy "$@"
  gl_poll_rc=$?
  GL_TIMEOUT=$gl_saved_timeout
  return $gl_poll_rc
}

gl_poll_healthy() {
  gl_services="$*"
  [ -n "$gl_services" ] || return 0
  # A rollout's wait for its new containers is told by its own events.
  [ -n "$GL_WATCH" ] || gl_event phase health "$gl_services"
  gl_deadline=$(($(date +%s) + GL_HEALTH_TIMEOUT))
  gl_dir=$(mktemp -d) || return 1
  gl_watch_events "$gl_dir/events"
  while :; do
    gl_pending=
    gl_i=0
    for gl_s in $gl_services; do
      gl_i=$((gl_i + 1))
      # shellcheck disable=SC2046 # gl_status prints three words
      set -- $(gl_status "$gl_s")
      if [ "$(cat "$gl_dir/$gl_i.last" 2>/dev/null)" != "$2" ]; then
        echo "$2" > "$gl_dir/$gl_i.last"
        gl_event health "$gl_s" "$2"
      fi
      case $1 in
        0) ;;
        1)
          gl_now=$(date +%s)
          if [ "$(sed -n 1p "$gl_dir/$gl_i.sig" 2>/dev/null)" = "$3" ]; then
            if [ $((gl_now - $(sed -n 2p "$gl_dir/$gl_i.sig"))) -lt "$GL_STEADY_SECONDS" ]; then gl_pending="$gl_pending $gl_s"; fi
          else
            printf '%s\n%s\n' "$3" "$gl_now" > "$gl_dir/$gl_i.sig"
            gl_pending="$gl_pending $gl_s"
          fi ;;
        2) gl_pending="$gl_pending $gl_s" ;;
        *)
          GL_FAILED=$gl_s
          gl_event failed "$gl_s" "$2"
          gl_poll_done
          return 1 ;;
      esac
    done
    if [ -z "$gl_pending" ]; then
      [ -n "$GL_WATCH" ] || gl_event phase healthy
      gl_poll_done
      return 0
    fi
    if [ "$(date +%s)" -ge "$gl_deadline" ]; then
      set -- $gl_pending
      GL_FAILED=$1
      for gl_s in $gl_pending; do gl_event failed "$gl_s" "not-ready-after-$GL_HEALTH_TIMEOUT-s"; done
      gl_poll_done
      return 1
    fi
    gl_await_event "$gl_dir/events"
  done
}

# Streams the project's container events (health changes, starts, exits) to $1 in the background
# while the wait polls, so a container that turns healthy is seen within 0.1 s plus one poll.
# --until ends the stream even if this script is killed before gl_poll_done stops it.
gl_watch_events() {
  : > "$1"
  gl_events_seen=0
  docker events --until "$(($(date +%s) + GL_HEALTH_TIMEOUT + GL_POLL_SECONDS))" --filter type=container \
    --filter "label=com.docker.compose.project=$GL_PROJECT" --filter event=health_status --filter event=start \
    --filter event=die --filter event=destroy > "$1" 2>/dev/null &
  gl_events=$!
}

# Returns as soon as a new event is in $1, else after 0.5 s (services without a healthcheck,
# and an engine that streams no events, are polled at that pace).
gl_await_event() {
  gl_tick=0
  while [ "$gl_tick" -lt 5 ]; do
    gl_tick=$((gl_tick + 1))
    sleep 0.1
    gl_size=$(($(wc -c < "$1")))
    if [ "$gl_size" != "$gl_events_seen" ]; then
      gl_events_seen=$gl_size
      return 0
    fi
  done
}

gl_poll_done() {
  kill "$gl_events" 2>/dev/null
  rm -rf "$gl_dir"
}

gl_show_logs() {
  [ -n "$1" ] || return 0
  for gl_id in $(gl_watch_ids "$1"); do
    gl_logs=$(gl_docker logs --tail "$GL_LOG_LINES" "$gl_id" 2>&1)
    if [ -n "$gl_logs" ]; then
      echo "Last $GL_LOG_LINES log lines of $1 (container $(echo "$gl_id" | cut -c1-12)):"
      printf '%s\n' "$gl_logs" | sed 's/^/  | /'
    else
      echo "$1 (container $(echo "$gl_id" | cut -c1-12)) logged nothing."
    fi
    gl_checks=$(gl_docker inspect --format '{{with index .State "Health"}}{{range .Log}}exit {{.ExitCode}}: {{.Output}}{{println}}{{end}}{{end}}' "$gl_id" 2>/dev/null | grep -v '^$' | tail -n 5)
    if [ -n "$gl_checks" ]; then
      echo "Last healthchecks of $1:"
      printf '%s\n' "$gl_checks" | sed 's/^/  | /'
    fi
  done
}

# --- start-first rollouts (deploy.update_config.order: start-first; Compose v2) ---------------

# Holds a created container off its networks' aliases (the service name is one of them), so that
# name resolves to it only once it is healthy; keeps the aliases in $GL_RUN/aliases.<id>.
gl_hold() {
  # shellcheck disable=SC2016 # a Go template, for docker
  gl_docker inspect --format '{{range $n, $e := .NetworkSettings.Networks}}{{$n}}{{range $e.Aliases}} {{.}}{{end}}{{println}}{{end}}' "$1" \
    > "$GL_RUN/aliases.$1" || return 1
  while read -r gl_net gl_aliases; do
    # The default bridge has no aliases, and nothing to hold.
    [ -n "$gl_aliases" ] || continue
    gl_docker network disconnect "$gl_net" "$1" && gl_docker network connect "$gl_net" "$1" || return 1
  done < "$GL_RUN/aliases.$1"
}

# Gives a held container its aliases back: from now on the service name resolves to it too.
gl_join() {
  gl_held=$1
  while read -r gl_net gl_aliases; do
    [ -n "$gl_aliases" ] || continue
    set --
    for gl_alias in $gl_aliases; do set -- "$@" --alias "$gl_alias"; done
    gl_docker network disconnect "$gl_net" "$gl_held" && gl_docker network connect "$@" "$gl_net" "$gl_held" || return 1
  done < "$GL_RUN/aliases.$gl_held"
}

gl_count() { gl_service_ids "$1" | grep -c .; }

# One batch: compose scales the service up by as many containers as are given, without
# recreating any (the new ones get the new files' configuration), held off the service name;
# once they are healthy they join it and serve beside the old ones for the monitor time; then
# each old one is stopped with its grace period (to finish in-flight requests) and removed.
# Arguments: service grace monitor old-ids... On failure the new ones are left in GL_WATCH.
gl_batch() {
  gl_b_service=$1 gl_b_grace=$2 gl_b_monitor=$3
  shift 3
  gl_b_old="$*"
  gl_b_before=" $(gl_service_ids "$gl_b_service" | tr '\n' ' ')" || return 1
  gl_b_scale=$(($(echo "$gl_b_before" | wc -w) + $#))
  (cd "$GL_DIR" && gl_project up -d --no-start --no-deps --no-recreate --scale "$gl_b_service=$gl_b_scale" -- "$gl_b_service") || return 1
  GL_WATCH=
  for gl_id in $(gl_service_ids "$gl_b_service"); do
    case $gl_b_before in *" $gl_id "*) ;; *) GL_WATCH="$GL_WATCH $gl_id" ;; esac
  done
  if [ -z "$GL_WATCH" ]; then
    GL_FAILED=$gl_b_service
    gl_event failed "$gl_b_service" no-new-container
    return 1
  fi
  for gl_id in $GL_WATCH; do
    gl_hold "$gl_id" && gl_docker start "$gl_id" > /dev/null || return 1
  done
  gl_event start-first "$gl_b_service" started "$(echo $GL_WATCH | wc -w)"
  gl_wait_healthy "$gl_b_service" || return 1
  for gl_id in $GL_WATCH; do gl_join "$gl_id" || return 1; done
  gl_event start-first "$gl_b_service" serving "$gl_b_monitor"
  sleep "$gl_b_monitor"
  # shellcheck disable=SC2046 # gl_status prints three words
  set -- $(gl_status "$gl_b_service")
  if [ "$1" = 3 ]; then
    GL_FAILED=$gl_b_service
    gl_event failed "$gl_b_service" "$2"
    return 1
  fi
  GL_WATCH=
  for gl_id in $gl_b_old; do
    # -t: --time on older docker clients, --timeout on newer ones.
    gl_docker stop -t "$gl_b_grace" "$gl_id" > /dev/null
    gl_docker rm -f "$gl_id" > /dev/null || return 1
  done
  gl_event start-first "$gl_b_service" retired "$(echo $gl_b_old | wc -w)" "$gl_b_grace"
}

# Replaces the given containers of a service start-first, `parallelism` at a time (0: all at
# once) with `delay` seconds between batches, then leaves the service at `replicas` containers.
# Arguments: service replicas parallelism delay monitor grace old-ids...
gl_replace() {
  gl_r_service=$1 gl_r_replicas=$2 gl_r_parallelism=$3 gl_r_delay=$4 gl_r_monitor=$5 gl_r_grace=$6
  shift 6
  [ "$gl_r_parallelism" -gt 0 ] || gl_r_parallelism=$#
  gl_r_first=1
  while [ $# -gt 0 ]; do
    [ "$gl_r_first" = 1 ] || sleep "$gl_r_delay"
    gl_r_first=0
    gl_r_batch=
    gl_n=0
    while [ $# -gt 0 ] && [ "$gl_n" -lt "$gl_r_parallelism" ]; do
      gl_r_batch="$gl_r_batch $1"
      gl_n=$((gl_n + 1))
      shift
    done
    gl_r_rest="$*"
    gl_batch "$gl_r_service" "$gl_r_grace" "$gl_r_monitor" $gl_r_batch || return 1
    set -- $gl_r_rest
  done
  # A first deploy, or a changed replica count: compose adds (or removes) the difference.
  gl_n=$(gl_count "$gl_r_service")
  [ "$gl_n" != "$gl_r_replicas" ] || return 0
  (cd "$GL_DIR" && gl_project up -d --no-deps --no-recreate --scale "$gl_r_service=$gl_r_replicas" -- "$gl_r_service") &&
    gl_wait_healthy "$gl_r_service"
}

# Rolls out each start-first service (GL_START_FIRST: service replicas parallelism delay monitor
# grace, repeated), keeping its containers from before in $GL_RUN/before.<service>.
gl_start_first() {
  set -- $GL_START_FIRST
  while [ $# -ge 6 ]; do
    gl_service_ids "$1" > "$GL_RUN/before.$1" || return 1
    gl_event phase start-first "$1"
    # shellcheck disable=SC2046 # container ids, one word each
    gl_replace "$1" "$2" "$3" "$4" "$5" "$6" $(cat "$GL_RUN/before.$1") || return 1
    shift 6
  done
}

# The rollback of gl_start_first, start-first again: with the previous files back, the
# containers this run created are replaced by previous-version ones, as many as there were.
# A new container that failed (GL_WATCH) is removed first: it never served.
gl_start_first_back() {
  [ -z "$GL_WATCH" ] || gl_docker rm -f $GL_WATCH > /dev/null
  GL_WATCH=
  set -- $GL_START_FIRST
  gl_rc=0
  while [ $# -ge 6 ]; do
    # No file: not reached. An empty one: a new service, which gl_remove_services removes.
    if [ -s "$GL_RUN/before.$1" ]; then
      gl_created=
      for gl_id in $(gl_service_ids "$1"); do
        grep -qxF "$gl_id" "$GL_RUN/before.$1" || gl_created="$gl_created $gl_id"
      done
      if [ -n "$gl_created" ]; then
        gl_event phase start-first "$1"
        gl_replace "$1" "$(grep -c . "$GL_RUN/before.$1")" "$3" "$4" "$5" "$6" $gl_created || gl_rc=1
      fi
    fi
    shift 6
  done
  return $gl_rc
}

gl_hex() { case $1 in *[!0-9a-f]*) ;; *) printf '%s' "$1" ;; esac; }

# The record of what is deployed: the header and unchanged services' lines from the client,
# then each deployed service's line from the client (with the config hash its inspection saw)
# completed by the label compose put on the container it created.
gl_write_record() {
  # Every service's config-hash label from one docker call (newest container first): "service hash" lines.
  gl_labels=$(gl_docker ps -a --no-trunc --filter "label=com.docker.compose.project=$GL_PROJECT" --filter "label=com.docker.compose.oneoff=False" \
    --format '{{.Label "com.docker.compose.service"}} {{.Label "com.docker.compose.config-hash"}}' 2>/dev/null)
  {
    cat "$GL_RUN/record.head"
    for gl_s in "$@"; do
      gl_prefix=$(awk -v s="$gl_s" '$1 == s { sub(/^[^ ]* /, ""); print; exit }' "$GL_RUN/record.services")
      gl_c=$(printf '%s\n' "$gl_labels" | awk -v s="$gl_s" '$1 == s { print $2; exit }')
      printf '%s,"containerHash":"%s"}\n' "$gl_prefix" "$(gl_hex "$gl_c")"
    done
  } > "$GL_RUN/record" && gl_state_write state < "$GL_RUN/record"
}

gl_finish() {
  gl_audit "$GL_AUDIT,\"result\":\"$1\",\"durationSeconds\":$(($(date +%s) - gl_started))}" ||
    printf 'gitops-lite: %s\n' "could not append to $GL_STATE/audit.log" >&2
  rm -f "$GL_STATE/lock.owner"
  gl_event result "$1"
  exit "$2"
}

# The end of a deploy whose services are up and healthy: the record written by the given
# command, then success, or which of the two went wrong.
# Arguments: 1 when the services gone from the files were removed (else 0), the record's file
# name under the state folder, the command that writes it.
gl_finish_deployed() {
  gl_fd_removed=$1 gl_fd_file=$2
  shift 2
  if ! "$@"; then
    printf 'gitops-lite: %s\n' "the services are deployed, but $GL_STATE/$gl_fd_file could not be written" >&2
    gl_finish deployed-without-record "$GL_EXIT_DEPLOYED_WITHOUT_RECORD"
  fi
  [ "$gl_fd_removed" = 1 ] || gl_finish remove-failed "$GL_EXIT_REMOVE_FAILED"
  gl_finish success "$GL_EXIT_OK"
}

gl_apply_main() {
  if ! gl_pull $GL_DEPLOY; then gl_finish failed "$GL_EXIT_FAILED_BEFORE_CHANGE"; fi
  if ! gl_swap; then
    gl_restore || gl_finish rollback-failed "$GL_EXIT_ROLLBACK_FAILED"
    gl_finish failed "$GL_EXIT_FAILED_BEFORE_CHANGE"
  fi
  gl_pre_deploy_commands
  # Start-first services first: when one fails, the recreated ones have not been touched yet.
  gl_recreated=0
  if ! gl_start_first; then
    [ -n "$GL_FAILED" ] || gl_event up-failed
  elif gl_recreated=1 && ! gl_up $GL_RECREATE; then
    gl_event up-failed
  elif gl_wait_healthy $GL_RECREATE; then
    gl_removed=1
    gl_remove_containers $GL_REMOVE || gl_removed=0
    gl_finish_deployed "$gl_removed" state gl_write_record $GL_DEPLOY
  fi
  gl_show_logs "$GL_FAILED"
  [ "$GL_ROLLBACK" = 1 ] || gl_finish failed "$GL_EXIT_FAILED_NO_ROLLBACK"
  gl_event phase rollback
  gl_restore || gl_finish rollback-failed "$GL_EXIT_ROLLBACK_FAILED"
  gl_remove_services $GL_NEW_SERVICES
  gl_rolled_back=1
  gl_start_first_back || gl_rolled_back=0
  if [ "$gl_rolled_back" = 1 ] && { [ "$gl_recreated" = 0 ] || { gl_up $GL_PREVIOUS && gl_wait_healthy $GL_PREVIOUS; }; }; then
    gl_finish rolled-back "$GL_EXIT_ROLLED_BACK"
  fi
  gl_show_logs "$GL_FAILED"
  gl_finish rollback-failed "$GL_EXIT_ROLLBACK_FAILED"
}
