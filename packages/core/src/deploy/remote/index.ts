import { readFileSync } from 'node:fs'

/**
 * The host side of a deploy: the static POSIX sh library in lib.sh, read as text (the
 * bundler inlines it into each action's dist/). Every value it uses arrives as a quoted variable
 * assignment placed before it (see scripts.ts), as a function argument, or on stdin; nothing in
 * it is generated. Lists (services, files, container ids) are space-separated words that were
 * validated to contain no spaces or glob characters. Its exit codes are ExitCode's, handed to it
 * as variables; the events it prints are the words below (a unit test checks lib.sh against them).
 */
export const REMOTE_LIBRARY = readFileSync(new URL('./lib.sh', import.meta.url), 'utf8')

/** The Swarm path's functions (orchestrator: swarm), placed after REMOTE_LIBRARY, whose helpers they use. */
export const SWARM_LIBRARY = readFileSync(new URL('./swarm.sh', import.meta.url), 'utf8')
/** Whole-stack operations, run after REMOTE_LIBRARY: listing stacks (mode: list) and removing one (mode: remove). */
export const STACKS_LIBRARY = readFileSync(new URL('./stacks.sh', import.meta.url), 'utf8')

/** Exit codes of the remote scripts; the library gets them as variables (see exitCodeVariables). */
export const ExitCode = {
  ok: 0,
  rolledBack: 10,
  rollbackFailed: 11,
  failedBeforeChange: 12,
  failedNoRollback: 13,
  /** The services are deployed and healthy, but the record (state) could not be written. */
  deployedWithoutRecord: 14,
  /** The services are deployed and healthy, but removing a service gone from the files failed. */
  removeFailed: 15,
  /** A removal (mode: remove) left something it could not remove; the record is kept for a rerun. */
  partlyRemoved: 16,
  invalidFiles: 65,
  missingTool: 69,
  hostError: 70,
  /** A symbolic link where the deploy would write (the host printed a refused-link event naming it); nothing changed. */
  refusedLink: 71,
  /** orchestrator: swarm, and the host's engine is not a Swarm manager. */
  notManager: 72,
  lockTimeout: 75,
  stalePlan: 76,
  /** A removal refused: remote-dir holds another project, or the named one runs from another folder. */
  removeRefused: 77,
  /** Stopped by SIGINT or SIGTERM (128 + 15, as shells report it), after its EXIT trap cleaned up. */
  interrupted: 143
} as const

/** ExitCode as the library's variables: `rolledBack: 10` is `GL_EXIT_ROLLED_BACK=10`. */
export function exitCodeVariables(): Record<string, string> {
  return Object.fromEntries(
    Object.entries(ExitCode).map(([name, code]) => [
      `GL_EXIT_${name.replace(/[A-Z]/g, '_$&').toUpperCase()}`,
      String(code)
    ])
  )
}

/** What the library prints after the mark on an event line: `<mark> <event> <words>...`. */
export const remoteEvents = [
  'section',
  'lock-wait',
  'lock-timeout',
  'stale',
  'phase',
  'health',
  'failed',
  'start-first',
  'swap-failed',
  'up-failed',
  'restore-failed',
  'remove-failed',
  'refused-link',
  'login-failed',
  'pre-deploy',
  'pre-deploy-failed',
  'setup-failed',
  'pull-failed',
  'result'
] as const
export type RemoteEvent = (typeof remoteEvents)[number]

/** What stacks.sh prints after the mark: a listing's `stack`, and what a removal finds, does and refuses. */
export const stackEvents = [
  'stack',
  'container',
  'network',
  'volume',
  'file',
  'state',
  'refused',
  'skipped',
  'remove-failed',
  'phase',
  'result'
] as const
export type StackEvent = (typeof stackEvents)[number]

/** The steps of a removal, each announced by a `phase` event. */
export const removePhases = ['locked', 'stop', 'files'] as const

/** The steps of an apply, each announced by a `phase` event. */
export const applyPhases = [
  'locked',
  'login',
  'pull',
  'swap',
  'start-first',
  'up',
  'health',
  'healthy',
  'remove',
  'rollback',
  'restore'
] as const
export type ApplyPhase = (typeof applyPhases)[number]

/** The parts of the inspection's output, each after a `section` event. */
export const inspectionSections = [
  'envfiles',
  'compose',
  'directory',
  'project',
  'generation',
  'config',
  'hashes',
  'containers',
  'record',
  'files',
  /** The Swarm inspection's live services of the stack. */
  'services',
  /** The Swarm inspection's manager engine API version. */
  'engine',
  'end'
] as const
export type InspectionSection = (typeof inspectionSections)[number]

/** Runs the script sent on stdin with stdin closed, so nothing in it can read the script. */
export const ATTACHED_BOOTSTRAP =
  `t=$(mktemp) || exit ${ExitCode.hostError}; cat > "$t" || exit ${ExitCode.hostError}; ` +
  'sh "$t" < /dev/null; r=$?; rm -f "$t"; exit $r'

/**
 * Reads the registry logins from stdin (lines up to an empty one, see registryLoginLines), saves
 * the rest, the script, to $1/apply.sh and runs it detached from the SSH session, so a dropped
 * connection never leaves a half-done deploy: the host finishes it (or rolls back) and releases
 * the lock. The logins reach the apply on a pipe, so they are never written to a file here.
 * Meanwhile the log is streamed back; the exit code is the script's.
 */
export const DETACHED_BOOTSTRAP = [
  'd=$1',
  'case $d in /*) ;; *) d="$HOME/$d" ;; esac',
  'c=',
  'while IFS= read -r l && [ -n "$l" ]; do c="$c $l"; done',
  // $d is <remote-dir>/.gitops-lite/runs/<id>: $r the runs folder, $s the state folder.
  'r=${d%/*}; s=${r%/*}',
  'mkdir -p "${s%/*}/." || exit ' + ExitCode.hostError,
  // Never through a link (see gl_check_links in lib.sh, which names it).
  'if [ -L "$s" ] || [ -L "$r" ]; then echo "gitops-lite: $s or $r is a symbolic link" >&2; exit ' +
    ExitCode.refusedLink +
    '; fi',
  // A fresh folder per apply: a second script written into a running one's folder would be read by it.
  // The state folder is the deploy user's alone, and so is the log (it holds compose's messages).
  '(umask 077 && mkdir -p "$r" && mkdir "$d" && cat > "$d/apply.sh" && : > "$d/log") || exit ' + ExitCode.hostError,
  `printf '%s\n' "$c" | nohup sh -c 'sh "$1/apply.sh" >> "$1/log" 2>&1; echo $? > "$1/rc.tmp"; mv "$1/rc.tmp" "$1/rc"' gitops-lite "$d" > /dev/null 2>&1 &`,
  'c=',
  'n=0',
  'while :; do',
  '  if [ -f "$d/rc" ]; then f=1; else f=0; fi',
  '  t=$(($(wc -l < "$d/log")))',
  '  if [ "$t" -gt "$n" ]; then sed -n "$((n + 1)),$t"p "$d/log"; n=$t; fi',
  `  if [ "$f" = 1 ]; then sed -n "$((n + 1))"',$p' "$d/log"; exit "$(cat "$d/rc")"; fi`,
  '  sleep 0.1',
  'done'
].join('\n')
