# shellcheck shell=sh
# Whole stacks, run after lib.sh: listing the stacks under a folder (mode: list) and removing one
# (mode: remove). The GL_* variables (GL_DIR, GL_STATE, ...) and gl_* functions are lib.sh's.
# Lists are space-separated words split on purpose where they are used unquoted (set -f is on).
# shellcheck disable=SC2086,SC2153

# --- list: the record header of each stack in a folder directly under remote-dir ---------------
# Events: `stack <folder>`, each followed by that stack's record header (one JSON line). Only
# reads: a stack whose record a removal took away is no longer listed.
gl_list_main() {
  [ -d "$GL_DIR" ] || { gl_event result none; exit "$GL_EXIT_OK"; }
  set +f
  for gl_state in "$GL_DIR"/*/.gitops-lite/state; do
    [ -f "$gl_state" ] || continue
    gl_event stack "$(dirname "$(dirname "$gl_state")")"
    head -n 1 "$gl_state"
  done
  set -f
  gl_event result listed
}

# --- remove: take a whole project down --------------------------------------------------------
# Besides lib.sh's variables it reads GL_DRY_RUN (1: only say what would go), GL_REMOVE_VOLUMES (1: named volumes go too),
# GL_OWNER and GL_AUDIT (as the apply does). Events, one per line after GL_MARK:
#   container <service> <name> | network <name> | volume <name> <remove|keep> | file <path> | state <dir>
#   refused <project-elsewhere|other-project> <detail> | skipped <path> | remove-failed <kind> <name>
#   phase <locked|stop|files> | result <absent|dry-run|removed|partly-removed>
# Exit codes: GL_EXIT_OK done (or nothing there), GL_EXIT_PARTLY_REMOVED something could not be
# removed, GL_EXIT_REMOVE_REFUSED refused.

# The project's containers (id), networks and volumes (name), found by compose's labels.
gl_project_containers() { gl_docker ps -aq --no-trunc --filter "label=com.docker.compose.project=$GL_PROJECT"; }
gl_project_objects() { gl_docker "$1" ls --format '{{.Name}}' --filter "label=com.docker.compose.project=$GL_PROJECT"; }

# The paths the last deploy uploaded, from the record's header: relative, made of [A-Za-z0-9._/-]
# only (the client refuses any other upload), so they are read with sed, not a JSON parser.
gl_recorded_files() {
  sed -n '1s/.*"files":{\([^}]*\)}.*/\1/p' "$GL_STATE/state" 2>/dev/null | tr ',' '\n' |
    sed -n 's/^"\([A-Za-z0-9._/-]*\)":.*/\1/p'
}

# True when no folder between remote-dir and the file is a symbolic link (the file itself may
# be one: rm removes the link, never its target).
gl_no_link_on_the_way() { ! gl_first_link "$(dirname "$1")" > /dev/null; }

# Refuses (GL_EXIT_REMOVE_REFUSED) when remote-dir holds another project, or the named one runs from elsewhere.
gl_remove_check() {
  gl_recorded=$(sed -n '1s/.*"project":"\([a-z0-9_-]*\)".*/\1/p' "$GL_STATE/state" 2>/dev/null)
  if [ -n "$gl_recorded" ] && [ "$gl_recorded" != "$GL_PROJECT" ]; then
    gl_event refused other-project "$gl_recorded"
    exit "$GL_EXIT_REMOVE_REFUSED"
  fi
  gl_real=$(cd "$GL_DIR" 2>/dev/null && pwd -P) || gl_real=$GL_DIR
  for gl_id in $(gl_project_containers); do
    gl_wd=$(gl_docker inspect --format '{{index .Config.Labels "com.docker.compose.project.working_dir"}}' "$gl_id" 2>/dev/null) || continue
    if [ "$gl_wd" != "$GL_DIR" ] && [ "$gl_wd" != "$gl_real" ]; then
      gl_event refused project-elsewhere "$gl_wd"
      exit "$GL_EXIT_REMOVE_REFUSED"
    fi
  done
  for gl_wd in "$GL_DIR" "$gl_real"; do
    gl_other=$(gl_docker ps -a --filter "label=com.docker.compose.project.working_dir=$gl_wd" --format '{{.Label "com.docker.compose.project"}}' |
      grep -vxF "$GL_PROJECT" | head -n 1)
    if [ -n "$gl_other" ]; then
      gl_event refused other-project "$gl_other"
      exit "$GL_EXIT_REMOVE_REFUSED"
    fi
  done
}

gl_remove_main() {
  gl_check_host
  gl_started=$(date +%s)
  if [ -L "$GL_DIR" ] || [ -L "$GL_STATE" ]; then
    gl_fail "$GL_EXIT_INVALID_FILES" "$GL_DIR or $GL_STATE is a symbolic link: nothing is removed through a link"
  fi
  if [ -e "$GL_DIR" ] && [ ! -d "$GL_DIR" ]; then gl_fail "$GL_EXIT_INVALID_FILES" "$GL_DIR is not a directory"; fi
  if [ -d "$GL_STATE" ]; then
    if [ "$GL_DRY_RUN" = 1 ]; then
      if [ -f "$GL_STATE/lock" ]; then gl_lock -s; fi
    else
      gl_state_file lock || gl_fail "$GL_EXIT_HOST_ERROR" "cannot create $GL_STATE/lock"
      gl_lock -x
      gl_event phase locked
      printf '%s\n' "$GL_OWNER" | gl_state_write lock.owner
      trap 'rm -f "$GL_STATE/lock.owner"' EXIT
    fi
  fi
  gl_remove_check
  gl_ids=$(gl_project_containers) || gl_fail "$GL_EXIT_HOST_ERROR" "docker could not list the containers of project $GL_PROJECT"
  gl_networks=$(gl_project_objects network) || gl_fail "$GL_EXIT_HOST_ERROR" "docker could not list the networks of project $GL_PROJECT"
  gl_volumes=$(gl_project_objects volume) || gl_fail "$GL_EXIT_HOST_ERROR" "docker could not list the volumes of project $GL_PROJECT"
  gl_files=$(gl_recorded_files)
  for gl_id in $gl_ids; do
    gl_event container "$(gl_docker inspect --format '{{index .Config.Labels "com.docker.compose.service"}} {{.Name}}' "$gl_id" 2>/dev/null)"
  done
  for gl_n in $gl_networks; do gl_event network "$gl_n"; done
  for gl_v in $gl_volumes; do
    if [ "$GL_REMOVE_VOLUMES" = 1 ]; then gl_event volume "$gl_v" remove; else gl_event volume "$gl_v" keep; fi
  done
  for gl_f in $gl_files; do
    if ! gl_is_kept_file "$gl_f" && { [ -e "$GL_DIR/$gl_f" ] || [ -L "$GL_DIR/$gl_f" ]; }; then gl_event file "$gl_f"; fi
  done
  if [ -d "$GL_STATE" ]; then gl_event state "$GL_STATE"; fi
  if [ -z "$gl_ids$gl_networks$gl_files" ] && [ ! -f "$GL_STATE/state" ] && { [ "$GL_REMOVE_VOLUMES" != 1 ] || [ -z "$gl_volumes" ]; }; then
    gl_event result absent
    exit "$GL_EXIT_OK"
  fi
  [ "$GL_DRY_RUN" != 1 ] || { gl_event result dry-run; exit "$GL_EXIT_OK"; }

  gl_rc=$GL_EXIT_OK
  if [ -n "$gl_ids" ]; then
    gl_event phase stop
    gl_docker stop $gl_ids >/dev/null
    # -v: the containers' anonymous volumes go with them; named volumes are separate objects.
    gl_docker rm -f -v $gl_ids >/dev/null || { gl_event remove-failed containers -; gl_rc=$GL_EXIT_PARTLY_REMOVED; }
  fi
  for gl_n in $gl_networks; do gl_docker network rm "$gl_n" >/dev/null || { gl_event remove-failed network "$gl_n"; gl_rc=$GL_EXIT_PARTLY_REMOVED; }; done
  if [ "$GL_REMOVE_VOLUMES" = 1 ]; then
    for gl_v in $gl_volumes; do gl_docker volume rm "$gl_v" >/dev/null || { gl_event remove-failed volume "$gl_v"; gl_rc=$GL_EXIT_PARTLY_REMOVED; }; done
  fi
  gl_event phase files
  for gl_f in $gl_files; do
    if gl_is_kept_file "$gl_f"; then continue; fi
    if ! gl_no_link_on_the_way "$gl_f"; then gl_event skipped "$gl_f"; gl_rc=$GL_EXIT_PARTLY_REMOVED; continue; fi
    rm -f "$GL_DIR/$gl_f" || { gl_event remove-failed file "$gl_f"; gl_rc=$GL_EXIT_PARTLY_REMOVED; continue; }
    # Folders the upload created, once empty; rmdir never follows a link, nor removes a full folder.
    gl_d=$(dirname "$gl_f")
    while [ "$gl_d" != . ]; do rmdir "$GL_DIR/$gl_d" 2>/dev/null || break; gl_d=$(dirname "$gl_d"); done
  done
  if [ "$gl_rc" = "$GL_EXIT_OK" ] && [ -d "$GL_STATE" ]; then
    # The state goes, the audit log stays: the stack's history outlives the stack. The lock goes
    # last; a run waiting for it then finds no record and plans a first deploy.
    trap - EXIT
    rm -rf "$GL_STATE/runs" "$GL_STATE/state" "$GL_STATE/state.tmp" "$GL_STATE/generation" "$GL_STATE/lock.owner" ||
      { gl_event remove-failed state "$GL_STATE"; gl_rc=$GL_EXIT_PARTLY_REMOVED; }
  fi
  if [ "$gl_rc" = "$GL_EXIT_OK" ]; then gl_result=removed; else gl_result=partly-removed; fi
  if [ -d "$GL_STATE" ]; then
    gl_audit "$GL_AUDIT,\"result\":\"$gl_result\",\"durationSeconds\":$(($(date +%s) - gl_started))}" ||
      printf 'gitops-lite: %s\n' "could not append to $GL_STATE/audit.log" >&2
    [ "$gl_rc" != "$GL_EXIT_OK" ] || rm -f "$GL_STATE/lock"
  fi
  gl_event result "$gl_result"
  exit "$gl_rc"
}
