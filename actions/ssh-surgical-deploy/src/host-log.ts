import { formatTarget, log, maskSecret, type DeployLog, type SshTarget } from '@gitops-lite/core'

/**
 * Progress lines, prefixed with the host when there are several. Host output is fenced with
 * ::stop-commands:: so nothing a container logs can act as a workflow command.
 */
export function hostLog(target: SshTarget, hostCount: number): DeployLog {
  const prefix = hostCount > 1 ? `[${formatTarget(target)}] ` : ''
  return {
    info: (message) => log.info(`${prefix}${message}`),
    warning: (message) => log.warning(`${prefix}${message}`),
    remote: (lines) => log.fenced(lines, `${prefix}  `),
    mask: (values) => values.forEach(maskSecret)
  }
}
