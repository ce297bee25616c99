// The public surface of @gitops-lite/core: what the actions, the tests, the demo and bench/
// import, named one by one; the rest stays inside the package.
// Errors, inputs and the runner, the workspace, image references, names, the dispatch payload, shell.
export { UserError } from './errors'
export { runAction } from './action-runner'
export { formatDuration, Inputs, parseDuration, parseList } from './inputs'
export { readRunnerContext, type RunnerContext } from './runner-context'
export { decodeUtf8, defaultComposeFile, leavesWorkspace, resolveInsideWorkspace } from './workspace'
export { runProcess, type ProcessOptions, type ProcessResult, type ProcessRunner } from './process'
export {
  canonicalRepository,
  formatImageReference,
  imageReferenceProblem,
  isMutableTag,
  parseImageReference,
  registryOf,
  repositoryOf,
  requireDigest,
  requireRepository,
  requireTag
} from './image-ref'
export {
  isValidServiceName,
  parseRepositoryName,
  requireRepositoryName,
  requireServiceName,
  type RepositoryName
} from './names'
export {
  checkDispatchLimits,
  createDeployPayload,
  DISPATCH_LIMITS,
  isValidEnvironment,
  parseDeployPayload,
  type ImageUpdate,
  type PayloadSource
} from './payload'
export { quoteShellArg, shellCommand, ShellScript } from './shell'
export { escapeHtml, hasControlCharacter, log, maskSecret, printable } from './log'
// Compose parsing and byte-minimal editing (pure).
export { parseTemplate, resolveTemplate, variablesIn } from './compose/interpolation'
export { envValues, parseEnvFile, setEnvValue } from './compose/env-file'
export { parseCompose } from './compose/compose-file'
export { planImageBump } from './compose/image-bump/plan'
export type { BumpPlan, BumpTarget, ServiceUpdate } from './compose/image-bump/types'
export { planPromotion, type Promotion } from './compose/promotion'
export { planRestore, serviceGroups } from './compose/image-restore'
export { bumpDiff, unifiedDiff } from './compose/diff'
// GitHub REST API: client, dispatches, workflow runs.
export { createGitHubClient, type GitHubLog } from './github/client'
export {
  explainRequestError,
  isRateLimit,
  looksLikeWorkflowToken,
  quoteGitHubMessage,
  quoteText,
  type RequestPurpose
} from './github/errors'
export { sendRepositoryDispatch } from './github/dispatch'
export {
  checkWorkflowRunsReadable,
  CLOCK_SKEW_MS,
  createdSince,
  githubWorkflowRuns,
  nextPollDelay,
  oldestFirst,
  POLL_BACKOFF,
  RUN_NAME_LINE,
  runCarries,
  runFailed,
  runToReport,
  waitForWorkflowRun,
  type Clock,
  type WaitResult,
  type WorkflowRun,
  type WorkflowRunSource
} from './github/workflow-runs'
export {
  createDeployment,
  readDeploymentRequest,
  setDeploymentStatus,
  startDeployment,
  type DeploymentRequest,
  type DeploymentState,
  type StartedDeployment
} from './github/deployments'
export { findRestoringCommit, restoresAfterRun, type ListedCommit } from './github/commits'
// git: the one command runner, publishing with retries, pull requests.
export { GitCommandManager, type GitIdentity, type PushResult } from './git/git-command-manager'
export { backoffDelay, publish, type PublishGit, type PublishOptions } from './git/publish'
export { openPullRequest } from './git/pull-request'
// SSH: targets, host keys, connections.
export { formatTarget, isValidUsername, knownHostName, parseHostSpec, type SshTarget } from './ssh/host-spec'
export {
  fingerprintOf,
  hostFieldMatches,
  hostKeyAlgorithmsFor,
  keyTypeOf,
  parseFingerprints,
  parseKnownHosts,
  verifyHostKey,
  type HostKeyPolicy
} from './ssh/known-hosts'
export {
  ConnectionLostError,
  HostKeyError,
  SshSession,
  type ExecOptions,
  type ExecResult,
  type RemoteShell,
  type SshConnectOptions,
  type SshEndpoint
} from './ssh/client'
export { checkPrivateKey } from './ssh/private-key'
// Deploy: planning, the host-side library and its scripts, the record, several hosts.
export { jsonPrefix, parseRecord, recordDamage, type DeployRecord, type RecordedService } from './deploy/record'
export { envFileValues, environmentValues, hostSecrets } from './deploy/secrets'
export {
  composeDurationSeconds,
  parseComposeModel,
  parseInspection,
  splitSections,
  type ContainerState,
  type HostReport
} from './deploy/report'
export {
  checkComposeImages,
  envFilesOf,
  isComposeFileName,
  isReservedPath,
  isSafeRelativePath,
  isSecretFileName,
  preDeployCommandsOf,
  stackFile,
  type StackFile
} from './deploy/stack-files'
export { computePlan, pathsToDigest, type PlanInput } from './deploy/plan'
export {
  applyPhases,
  ATTACHED_BOOTSTRAP,
  DETACHED_BOOTSTRAP,
  ExitCode,
  exitCodeVariables,
  inspectionSections,
  REMOTE_LIBRARY,
  remoteEvents,
  removePhases,
  stackEvents,
  STACKS_LIBRARY,
  SWARM_LIBRARY
} from './deploy/remote'
export {
  applyScript,
  digestScript,
  inspectScript,
  libraryScript,
  type ComposeCommand,
  type RegistryLogin,
  type ScriptLimits,
  type StackTarget
} from './deploy/scripts'
export { deployToHost, type DeployLog, type DeployOptions, type HostOutcome, type RunInfo } from './deploy/deployer'
export {
  imageFileOf,
  parseRolledBackImages,
  ROLLBACK_TRAILERS,
  rolledBackServices,
  type RolledBackImage
} from './deploy/rollback'
export { formatRemoval, listStacks, removeFromHost, type RemoveOptions } from './deploy/stacks'
export { deployHosts, failureOf, type Outcome } from './deploy/hosts'
export { formatPlan, imageChange, strategyText } from './deploy/format'
export {
  computeSwarmPlan,
  desiredState,
  parseSwarmInspection,
  swarmOverride,
  swarmPreDeployJobs,
  type SwarmPreDeployJob,
  type SwarmReport
} from './deploy/swarm-plan'
export { deployToSwarm, NotAManagerError } from './deploy/swarm-deployer'
