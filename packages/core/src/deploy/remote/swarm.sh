# shellcheck shell=sh
# The Swarm path, run after lib.sh (whose lock, staging, swap, restore and audit it reuses).
# GL_PROJECT is the stack name; services are named <stack>_<service>.
# shellcheck disable=SC2086,SC2015,SC2153 # GL_* are set before lib.sh
# One JSON line per live service of the stack; the spec hash is appended by gl_swarm_services.
GL_SWARM_FORMAT='{"name":{{json .Spec.Name}},"image":{{json .Spec.TaskTemplate.ContainerSpec.Image}},"fileImage":{{json (index .Spec.Labels "com.docker.stack.image")}},"hash":{{json (index .Spec.Labels "io.gitops-lite.hash")}},"aspects":{{json (index .Spec.Labels "io.gitops-lite.aspects")}},"replicas":{{with .Spec.Mode.Replicated}}{{.Replicas}}{{else}}null{{end}},"update":{{with .UpdateStatus}}{{json .State}}{{else}}null{{end}},"specHash":"'

# The engine must be a manager of a swarm: only managers can deploy a stack.
gl_swarm_check() {
  [ "$GL_COMPOSE" = v2 ] || gl_fail "$GL_EXIT_MISSING_TOOL" "the Swarm path renders the files with Compose v2 ('docker compose'), which the host lacks"
  gl_manager=$(gl_docker info --format '{{.Swarm.LocalNodeState}} {{.Swarm.ControlAvailable}}' 2>/dev/null)
  [ "$gl_manager" = "active true" ] ||
    gl_fail "$GL_EXIT_NOT_MANAGER" "the Docker engine on this host is not a Swarm manager (swarm state: ${gl_manager:-unknown}); run 'docker swarm init' or list a manager in 'host'"
}

# Renders the stack files (and any extra -f files given) with the VM's .env, as compose does;
# fails naming each variable that is used without a value or a default.
# Arguments: output-file format (json or yaml) [-f extra-file]
gl_swarm_render() {
  gl_out=$1 gl_fmt=$2
  shift 2
  gl_project "$@" config --format "$gl_fmt" > "$gl_out" 2> "$gl_out.err"
  gl_rc=$?
  # compose warns, as text or (not on a terminal) logfmt with escaped quotes: The \"VAR\" variable is not set.
  gl_unset=$(sed -n 's/.*The \\*"\([A-Za-z0-9_]*\)\\*" variable is not set.*/\1/p' "$gl_out.err" | sort -u | tr '\n' ' ')
  grep -v 'variable is not set' "$gl_out.err" >&2
  rm -f "$gl_out.err"
  [ "$gl_rc" = 0 ] || gl_fail "$GL_EXIT_INVALID_FILES" "compose rejected the files (its message is above)"
  [ -z "$gl_unset" ] ||
    gl_fail "$GL_EXIT_INVALID_FILES" "these variables are used in the compose files but set neither in $GL_DIR/.env nor with a default (\${VAR:-default}): $gl_unset"
}

# The live services of the stack, one JSON line each (see GL_SWARM_FORMAT).
gl_swarm_services() {
  gl_ids=$(gl_docker service ls -q --filter "label=com.docker.stack.namespace=$GL_PROJECT") || return 1
  for gl_id in $gl_ids; do
    gl_line=$(gl_docker service inspect --format "$GL_SWARM_FORMAT" "$gl_id") || return 1
    gl_spec=$(gl_docker service inspect --format '{{json .Spec}}' "$gl_id" | sha256sum | awk '{ print $1 }') || return 1
    printf '%s%s"}\n' "$gl_line" "$gl_spec"
  done
}

# Arguments: the env_file paths of the compose files (their values are masked by the runner).
gl_swarm_inspect_report() {
  gl_swarm_check
  gl_check_links
  gl_env_files "$@"
  if [ -f "$GL_STATE/lock" ]; then gl_lock -s; fi
  cd "$GL_STAGE" || gl_fail "$GL_EXIT_HOST_ERROR" "cannot enter $GL_STAGE"
  gl_swarm_render "$GL_STAGE/.gitops-lite-config" json
  gl_resolve_project "$GL_STAGE/.gitops-lite-config"
  # The rendered config is Compose v2's JSON (the runner masks its environment values).
  gl_event section compose
  echo v2
  gl_event section directory
  echo "$GL_DIR"
  gl_event section project
  echo "$GL_PROJECT"
  gl_event section generation
  gl_read_generation
  echo "$GL_GENERATION"
  gl_event section config
  cat "$GL_STAGE/.gitops-lite-config"
  echo
  gl_event section services
  gl_swarm_services || gl_fail "$GL_EXIT_HOST_ERROR" "docker could not list the services of stack $GL_PROJECT"
  gl_event section record
  cat "$GL_STATE/swarm-state" 2>/dev/null
  gl_event section files
  for gl_f in $GL_FILES; do gl_digest "$GL_DIR/$gl_f"; done
  # Pre-deploy commands run as Swarm jobs, which need API 1.41: the plan checks it.
  gl_event section engine
  gl_docker version --format '{{.Server.APIVersion}}' 2>/dev/null
  gl_event section end
}

# compose's canonical YAML made a stack file: a version, no project name, no depends_on (a
# mapping Swarm's schema refuses, and ignored by Swarm), published ports as numbers (compose
# quotes them, Swarm's schema wants integers), and only the services to deploy:
# `docker stack deploy` gives every service it is handed a new spec version, changed or not.
# shellcheck disable=SC2016 # awk code
GL_SWARM_FILTER='
BEGIN { n = split(keep, k, " "); for (i = 1; i <= n; i++) want[k[i]] = 1; print "version: \"3.8\"" }
/^[^ ]/ { top = $0; sub(/:.*/, "", top); drop = 0; skip = 0; if (top != "name") print; next }
top == "services" && /^  [^ ]/ { s = $0; sub(/^  /, "", s); sub(/:.*/, "", s); drop = !(s in want); skip = 0 }
drop { next }
top == "services" && /^    [^ ]/ { skip = ($0 ~ /^    depends_on:/) }
skip { next }
top == "services" && /^ +published: "[0-9]+"$/ { gsub(/"/, "") }
{ print }'

# docker with this deploy's registry logins (gl_login's Docker config), when it has any.
gl_docker_auth() {
  if [ -n "$GL_DOCKER_CONFIG" ]; then $GL_TIMEOUT env DOCKER_CONFIG="$GL_DOCKER_CONFIG" docker "$@"; else gl_docker "$@"; fi
}

gl_swarm_stack_deploy() {
  gl_event phase up
  gl_detach=
  if docker stack deploy --help 2>&1 | grep -q -- '--detach'; then gl_detach=--detach=true; fi
  (cd "$GL_DIR" && gl_swarm_render "$GL_RUN/stack.full.yaml" yaml -f "$GL_RUN/override.json") || return 1
  awk -v keep="$GL_DEPLOY" "$GL_SWARM_FILTER" "$GL_RUN/stack.full.yaml" > "$GL_RUN/stack.yaml" || return 1
  # When each service's last update started: an update state from before this run is not ours.
  for gl_s in $GL_DEPLOY; do gl_swarm_update "$gl_s" | cut -d ' ' -f 2 > "$GL_RUN/update.$gl_s"; done
  # Workers pull with the credentials the manager sends along (--with-registry-auth): the
  # registry logins of this deploy (see gl_swarm_apply_main), in a Docker config only it uses.
  gl_docker_auth stack deploy $gl_detach --with-registry-auth --prune=false -c "$GL_RUN/stack.yaml" "$GL_PROJECT"
  gl_deploy_rc=$?
  gl_logout
  return $gl_deploy_rc
}

# --- pre-deploy commands: one Swarm job each, before the stack deploy ---------------------

# compose's JSON (2-space indents) -> the environment of service `svc` as KEY=VALUE lines for
# docker's --env-file: JSON escapes decoded, compose's $$ made $, variables without a value
# (null) left out. A value an env file cannot hold (a line break, a NUL) fails, naming its key.
# shellcheck disable=SC2016 # awk code
GL_SWARM_ENV='
function hex(h,   i, v) { v = 0; for (i = 1; i <= 4; i++) v = v * 16 + index("0123456789abcdef", tolower(substr(h, i, 1))) - 1; return v }
function closing(t, i,   c) { for (i++; i <= length(t); i++) { c = substr(t, i, 1); if (c == "\\") i++; else if (c == "\"") return i } return 0 }
function unquote(t,   out, c, i, v) {
  out = ""
  for (i = 1; i <= length(t); i++) {
    c = substr(t, i, 1)
    if (c != "\\") { out = out c; continue }
    c = substr(t, ++i, 1)
    if (c == "u") { v = hex(substr(t, i + 1, 4)); i += 4; if (v == 0 || v == 10 || v == 13 || v > 127) broken = 1; else out = out sprintf("%c", v) }
    else if (c == "t") out = out "\t"
    else if (c == "b") out = out "\b"
    else if (c == "f") out = out "\f"
    else if (c == "n" || c == "r") broken = 1
    else out = out c
  }
  return out
}
$0 == "  \"services\": {" { at = 1; next }
at == 1 && $0 == "    \"" svc "\": {" { at = 2; next }
at == 1 && /^  }/ { exit }
at == 2 && $0 == "      \"environment\": {" { at = 3; next }
at == 2 && /^    }/ { exit }
at == 3 && /^      }/ { exit }
at == 3 {
  line = $0
  sub(/^ */, "", line)
  sub(/,$/, "", line)
  end = closing(line, 1)
  broken = 0
  key = unquote(substr(line, 2, end - 2))
  value = substr(line, end + 3)
  if (value == "null") next
  value = unquote(substr(value, 2, length(value) - 2))
  gsub(/\$\$/, "$", value)
  if (broken) { printf "gitops-lite: %s of service %s has a value a docker env file cannot hold (a line break or a non-ASCII escape)\n", key, svc > "/dev/stderr"; failed = 1; next }
  print key "=" value
}
END { exit failed }'

# Creates a network of the stack that does not exist yet, named and labelled as `docker stack
# deploy` creates it, so that the stack deploy adopts it (a pre-deploy job joins it first).
# Arguments: the network's name, then `docker network create` options.
gl_swarm_network() {
  gl_net=$1
  shift
  gl_docker network inspect "$gl_net" > /dev/null 2>&1 && return 0
  if gl_docker network create --label "com.docker.stack.namespace=$GL_PROJECT" "$@" "$gl_net" > /dev/null; then
    GL_CREATED_NETWORKS="$GL_CREATED_NETWORKS $gl_net"
    return 0
  fi
  gl_event setup-failed network "$gl_net"
  gl_swarm_stop_before_change
}

# The same for a config or secret named by content. Arguments: config or secret, name, file.
gl_swarm_object() {
  gl_docker "$1" inspect "$2" > /dev/null 2>&1 && return 0
  if gl_docker "$1" create --label "com.docker.stack.namespace=$GL_PROJECT" "$2" "$3" > /dev/null; then
    GL_CREATED_OBJECTS="$GL_CREATED_OBJECTS $1:$2"
    return 0
  fi
  gl_event setup-failed "$1" "$2"
  gl_swarm_stop_before_change
}

gl_swarm_job_rm() {
  [ -n "$GL_JOB" ] || return 0
  gl_docker service rm "$GL_JOB" > /dev/null 2>&1
  GL_JOB=
}

# A pre-deploy failed: nothing of the stack changed. Networks, configs and secrets this run
# created go (networks once their job's task has let go of them), the files are put back.
gl_swarm_stop_before_change() {
  gl_swarm_job_rm
  gl_logout
  rm -f "$GL_RUN/stack.full.json"
  for gl_object in $GL_CREATED_OBJECTS; do gl_docker "${gl_object%%:*}" rm "${gl_object#*:}" > /dev/null 2>&1; done
  for gl_net in $GL_CREATED_NETWORKS; do
    gl_try=0
    until gl_docker network rm "$gl_net" > /dev/null 2>&1 || [ "$gl_try" -ge 10 ]; do sleep 1; gl_try=$((gl_try + 1)); done
  done
  gl_restore || gl_finish rollback-failed "$GL_EXIT_ROLLBACK_FAILED"
  gl_finish failed "$GL_EXIT_FAILED_BEFORE_CHANGE"
}

# Runs a service's pre-deploy command once as a Swarm job with its new image and the environment
# the stack gives it (rendered here, with the new files in place), with this deploy's registry
# logins, bounded by command-timeout; prints its output, removes the job, and stops the deploy
# before any service changes when it fails.
# Arguments: service, `docker service create` options, --, image, command (built by the runner).
gl_swarm_pre_deploy() {
  gl_service=$1
  shift
  gl_event pre-deploy "$gl_service"
  GL_JOB="$GL_PROJECT-pre-deploy-$gl_service"
  # A job a killed run left behind.
  gl_docker service rm "$GL_JOB" > /dev/null 2>&1
  gl_env="$GL_RUN/pre-deploy.env"
  if [ ! -f "$GL_RUN/stack.full.json" ]; then
    (cd "$GL_DIR" && gl_swarm_render "$GL_RUN/stack.full.json" json -f "$GL_RUN/override.json") || gl_swarm_stop_before_change
  fi
  (umask 077 && awk -v svc="$gl_service" "$GL_SWARM_ENV" "$GL_RUN/stack.full.json" > "$gl_env") || gl_swarm_stop_before_change
  # No healthcheck: a task whose image has one stays 'starting' (and shows no logs) until healthy.
  gl_docker_auth service create --quiet --detach --name "$GL_JOB" --mode replicated-job --restart-condition none \
    --no-healthcheck --with-registry-auth --label "io.gitops-lite.pre-deploy=$GL_PROJECT" --env-file "$gl_env" "$@" > /dev/null
  gl_rc=$?
  rm -f "$gl_env"
  gl_code=124
  if [ "$gl_rc" != 0 ]; then
    gl_code=not-created
  else
    gl_deadline=$(($(date +%s) + GL_COMMAND_TIMEOUT))
    while [ "$(date +%s)" -lt "$gl_deadline" ]; do
      gl_task=$(gl_docker service ps -q --no-trunc "$GL_JOB" 2>/dev/null | head -n 1)
      gl_state=
      [ -z "$gl_task" ] || gl_state=$(gl_docker inspect --format '{{.Status.State}} {{with .Status.ContainerStatus}}{{.ExitCode}}{{end}}' "$gl_task" 2>/dev/null)
      # shellcheck disable=SC2086 # two words
      set -- $gl_state
      case ${1:-} in
        complete) gl_code=0; break ;;
        failed) if [ -n "${2:-}" ] && [ "$2" != 0 ]; then gl_code=$2; else gl_code=failed; fi; break ;;
        rejected | shutdown | orphaned | remove) gl_code=$1; break ;;
      esac
      sleep 1
    done
    gl_docker service logs --raw "$GL_JOB" 2>&1
    if [ "$gl_code" != 0 ] && [ -n "$gl_task" ]; then
      gl_err=$(gl_docker inspect --format '{{.Status.Err}}' "$gl_task" 2>/dev/null)
      [ -z "$gl_err" ] || echo "task error: $gl_err"
    fi
  fi
  gl_swarm_job_rm
  [ "$gl_code" = 0 ] && return 0
  gl_event pre-deploy-failed "$gl_service" "$gl_code"
  gl_swarm_stop_before_change
}

# "<update-state> <update-started-at> <replicas>" of a service (none none when it never updated;
# global for a global service).
gl_swarm_update() {
  gl_docker service inspect --format \
    '{{with .UpdateStatus}}{{.State}} {{json .StartedAt}}{{else}}none none{{end}} {{with .Spec.Mode.Replicated}}{{.Replicas}}{{else}}global{{end}}' \
    "${GL_PROJECT}_$1" 2>/dev/null
}

# "<state> <running> <desired> <update-state>" of a service; desired is the replica count
# (global services: the tasks meant to run).
gl_swarm_status() {
  gl_sv="${GL_PROJECT}_$1"
  gl_mark=$(cat "$GL_RUN/update.$1" 2>/dev/null)
  gl_upd=$(gl_swarm_update "$1") || { echo "missing 0 0 none"; return; }
  set -- $gl_upd
  # A spec change that replaces no task (labels only) starts no update: the state is an old one's.
  if [ "$2" = "$gl_mark" ]; then set -- none "$2" "$3"; fi
  gl_states=$(gl_docker service ps --filter desired-state=running --format '{{.CurrentState}}' "$gl_sv" 2>/dev/null)
  gl_running=$(printf '%s\n' "$gl_states" | grep -c '^Running')
  gl_want=$3
  [ "$gl_want" != global ] || gl_want=$(printf '%s\n' "$gl_states" | grep -c .)
  case $1 in
    paused | rollback_paused) echo "failed $gl_running $gl_want $1" ;;
    rollback_started | rollback_completed) if [ "$GL_SWARM_ROLLING_BACK" = 1 ]; then gl_swarm_ready "$1"; else echo "failed $gl_running $gl_want $1"; fi ;;
    updating) echo "pending $gl_running $gl_want $1" ;;
    *) gl_swarm_ready "$1" ;;
  esac
}

gl_swarm_ready() {
  if [ "$1" = rollback_started ] || [ "$gl_running" != "$gl_want" ]; then echo "pending $gl_running $gl_want $1"
  else echo "ready $gl_running $gl_want $1"
  fi
}

# Waits until every given service runs all its replicas on the new spec (tasks with a healthcheck
# count once healthy), up to GL_HEALTH_TIMEOUT; sets GL_FAILED to the first that fails.
gl_swarm_wait() {
  [ $# -gt 0 ] || return 0
  gl_event phase health "$*"
  # The manager starts the rolling update just after the spec changes: give it that moment.
  sleep 2
  gl_deadline=$(($(date +%s) + GL_HEALTH_TIMEOUT))
  gl_services="$*"
  gl_dir=$(mktemp -d) || return 1
  while :; do
    gl_pending=
    for gl_s in $gl_services; do
      # shellcheck disable=SC2046 # four words
      set -- $(gl_swarm_status "$gl_s")
      gl_detail="$2/$3-running"
      [ "$4" = none ] || gl_detail="$gl_detail,$4"
      if [ "$(cat "$gl_dir/$gl_s" 2>/dev/null)" != "$gl_detail" ]; then
        echo "$gl_detail" > "$gl_dir/$gl_s"
        gl_event health "$gl_s" "$gl_detail"
      fi
      case $1 in
        ready) ;;
        failed)
          GL_FAILED=$gl_s
          gl_event failed "$gl_s" "update-$4"
          rm -rf "$gl_dir"
          return 1 ;;
        *)
          if gl_swarm_unpullable "$gl_s"; then
            GL_FAILED=$gl_s
            gl_event failed "$gl_s" "tasks-rejected,-the-image-could-not-be-pulled"
            rm -rf "$gl_dir"
            return 1
          fi
          gl_pending="$gl_pending $gl_s" ;;
      esac
    done
    if [ -z "$gl_pending" ]; then
      gl_event phase healthy
      rm -rf "$gl_dir"
      return 0
    fi
    if [ "$(date +%s)" -ge "$gl_deadline" ]; then
      set -- $gl_pending
      GL_FAILED=$1
      for gl_s in $gl_pending; do gl_event failed "$gl_s" "not-converged-after-$GL_HEALTH_TIMEOUT-s"; done
      rm -rf "$gl_dir"
      return 1
    fi
    sleep 1
  done
}

# Whether the nodes keep rejecting the tasks of a service's current image because they cannot
# pull it (no login, no such tag). Swarm retries such tasks for ever: the wait stops at three.
gl_swarm_unpullable() {
  gl_img=$(gl_docker service inspect --format '{{.Spec.TaskTemplate.ContainerSpec.Image}}' "${GL_PROJECT}_$1" 2>/dev/null) || return 1
  gl_docker service ps --no-trunc --filter desired-state=shutdown --format '{{.Image}}|{{.Error}}' "${GL_PROJECT}_$1" 2>/dev/null |
    awk -v image="$gl_img|" 'index($0, image) == 1 && index($0, "No such image") { n++ } END { exit n < 3 }'
}

# The failed service's task errors and last log lines.
gl_swarm_show_logs() {
  [ -n "$1" ] || return 0
  gl_sv="${GL_PROJECT}_$1"
  echo "Tasks of $1 that failed or were shut down:"
  gl_tasks=$(gl_docker service ps --no-trunc --filter desired-state=shutdown --format '{{.Name}} {{.CurrentState}} {{.Error}}' "$gl_sv" 2>&1 | head -n 5)
  printf '%s\n' "$gl_tasks" | sed 's/^/  | /'
  # What a node says when its pull failed, a refused login included (the reason is in its daemon's log).
  case $gl_tasks in *'No such image'*) gl_event pull-failed "$1" ;; esac
  echo "Last $GL_LOG_LINES log lines of $1:"
  gl_docker service logs --no-task-ids --tail "$GL_LOG_LINES" "$gl_sv" 2>&1 | tail -n "$GL_LOG_LINES" | sed 's/^/  | /'
}

# Puts each updated service back to its previous spec (unless Swarm already does, as the file's
# update_config.failure_action: rollback says) and removes the services this run created.
gl_swarm_rollback() {
  for gl_s in $GL_NEW_SERVICES; do gl_docker service rm "${GL_PROJECT}_$gl_s" > /dev/null 2>&1; done
  for gl_s in $GL_PREVIOUS; do
    gl_upd=$(gl_docker service inspect --format '{{with .UpdateStatus}}{{.State}}{{end}}' "${GL_PROJECT}_$gl_s" 2>/dev/null)
    case $gl_upd in
      rollback_*) ;;
      *) gl_docker service rollback --detach "${GL_PROJECT}_$gl_s" > /dev/null || return 1 ;;
    esac
  done
  GL_SWARM_ROLLING_BACK=1
  gl_swarm_wait $GL_PREVIOUS
}

# Removes configs and secrets of the stack that no service uses any more (docker refuses to
# remove one in use, so trying each is safe); content-named ones pile up otherwise.
gl_swarm_prune_objects() {
  for gl_kind in config secret; do
    for gl_id in $(gl_docker "$gl_kind" ls -q --filter "label=com.docker.stack.namespace=$GL_PROJECT" 2>/dev/null); do
      gl_docker "$gl_kind" rm "$gl_id" > /dev/null 2>&1 || :
    done
  done
}

gl_swarm_remove() {
  [ -n "$GL_REMOVE" ] || return 0
  gl_event phase remove
  gl_rc=0
  for gl_s in $GL_REMOVE; do
    gl_docker service rm "${GL_PROJECT}_$gl_s" > /dev/null || { gl_event remove-failed "$gl_s"; gl_rc=1; }
  done
  return $gl_rc
}

# The record: the client's head (header, services this run left alone), then each deployed
# service's line completed with the hash of the spec it now has (a later change by hand is drift).
gl_swarm_write_record() {
  {
    cat "$GL_RUN/record.head"
    for gl_s in $GL_DEPLOY; do
      gl_prefix=$(awk -v s="$gl_s" '$1 == s { sub(/^[^ ]* /, ""); print; exit }' "$GL_RUN/record.services")
      gl_spec=$(gl_docker service inspect --format '{{json .Spec}}' "${GL_PROJECT}_$gl_s" | sha256sum | awk '{ print $1 }')
      printf '%s,"specHash":"%s"}\n' "$gl_prefix" "$(gl_hex "$gl_spec")"
    done
  } | gl_state_write swarm-state
}

gl_swarm_apply_main() {
  GL_SWARM_ROLLING_BACK=0
  GL_JOB=
  GL_CREATED_NETWORKS=
  GL_CREATED_OBJECTS=
  trap 'rm -f "$GL_STATE/lock.owner"; gl_logout; gl_swarm_job_rm' EXIT
  gl_swarm_check
  # One login for the pre-deploy jobs and the stack deploy; the EXIT trap removes it too.
  if [ -n "$GL_DEPLOY" ] && ! gl_login; then
    gl_logout
    gl_finish failed "$GL_EXIT_FAILED_BEFORE_CHANGE"
  fi
  if ! gl_swap; then
    gl_event swap-failed
    gl_restore || gl_finish rollback-failed "$GL_EXIT_ROLLBACK_FAILED"
    gl_finish failed "$GL_EXIT_FAILED_BEFORE_CHANGE"
  fi
  gl_pre_deploy_commands
  # The jobs' rendering holds the .env's values: not kept with the run's log.
  rm -f "$GL_RUN/stack.full.json"
  gl_deployed=1
  if [ -z "$GL_DEPLOY" ]; then
    :
  elif ! gl_swarm_stack_deploy; then
    # Services it created or updated before it failed are rolled back below.
    gl_event up-failed
    gl_deployed=0
  elif ! gl_swarm_wait $GL_DEPLOY; then
    gl_deployed=0
  fi
  if [ "$gl_deployed" = 1 ]; then
    gl_removed=1
    gl_swarm_remove || gl_removed=0
    gl_swarm_prune_objects
    gl_finish_deployed "$gl_removed" swarm-state gl_swarm_write_record
  fi
  gl_swarm_show_logs "$GL_FAILED"
  [ "$GL_ROLLBACK" = 1 ] || gl_finish failed "$GL_EXIT_FAILED_NO_ROLLBACK"
  gl_event phase rollback
  gl_restore || gl_finish rollback-failed "$GL_EXIT_ROLLBACK_FAILED"
  if gl_swarm_rollback; then gl_finish rolled-back "$GL_EXIT_ROLLED_BACK"; fi
  gl_swarm_show_logs "$GL_FAILED"
  gl_finish rollback-failed "$GL_EXIT_ROLLBACK_FAILED"
}
