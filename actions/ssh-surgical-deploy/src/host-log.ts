import { randomBytes } from 'node:crypto'
import * as core from '@actions/core'
import { formatTarget, type DeployLog, type SshTarget } from '@gitops-lite/core'

/**
 * Progress lines, prefixed with the host when there are several. Host output is fenced with
 * ::stop-commands:: so nothing a container logs can act as a workflow command.
 */
export function hostLog(target: SshTarget, hostCount: number): DeployLog {
  const prefix = hostCount > 1 ? `[${formatTarget(target)}] ` : ''
  return {
    info: (message) => core.info(`${prefix}${message}`),
    warning: (message) => core.warning(`${prefix}${message}`),
    remote(lines) {
      const token = randomBytes(16).toString('hex')
      process.stdout.write(`::stop-commands::${token}\n${lines.map((line) => `${prefix}  ${line}\n`).join('')}::${token}::\n`)
    },
    mask: (values) => values.forEach((value) => core.setSecret(value))
  }
}
