/**
 * The sandbox command (run by scripts/sandbox.sh): the whole pipeline on this machine through
 * the committed action bundles. See `--help`.
 */
import { parseArgs } from 'node:util'
import { formatDuration } from '@gitops-lite/core'
import { DEFAULT_SANDBOX_DIR, PipelineSandbox, runScenario, teardownSandbox } from '@gitops-lite/demo'

const usage = `Usage: bash scripts/sandbox.sh [--swarm] [--keep | --down] [--dir DIR]

Runs the gitops-lite pipeline on a local sandbox: a registry, an sshd "VM" on 127.0.0.1, an app
and an infra repo with bare remotes, and a stand-in for GitHub (API and workflow runner). Three
releases go through the committed bundles of dispatch-to-infra, bump-image-tag and
ssh-surgical-deploy: a first deploy, an api-only update, and a broken api that is rolled back.

  (no flag)  run the three releases, then remove everything the sandbox started
  --swarm    the same releases with orchestrator: swarm, the stack on a single-node Docker Swarm
             of this engine (made by the sandbox when the engine is in none, and left again)
  --keep     leave the stack, the VM (sshd) and the registry running afterwards, to look around
  --down     remove a kept (or interrupted) sandbox: its stack (and the swarm it made), sshd,
             the registry, images, DIR
  --dir DIR  where the sandbox keeps its state (default ${DEFAULT_SANDBOX_DIR})

Exit status: 0 when all three releases ended as expected (deployed, deployed, rolled back).`

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      keep: { type: 'boolean', default: false },
      swarm: { type: 'boolean', default: false },
      down: { type: 'boolean', default: false },
      dir: { type: 'string', default: DEFAULT_SANDBOX_DIR },
      help: { type: 'boolean', short: 'h', default: false }
    }
  })
  if (values.help) {
    console.log(usage)
    return 0
  }
  if (values.down) {
    const done = await teardownSandbox(values.dir)
    console.log(
      done.length ? done.map((line) => `sandbox --down: ${line}`).join('\n') : 'sandbox --down: nothing to remove'
    )
    return 0
  }

  console.log(
    `gitops-lite sandbox: the whole pipeline on this machine, through the committed action bundles${values.swarm ? ', on Docker Swarm' : ''}`
  )
  const sandbox = await PipelineSandbox.up({ dir: values.dir, orchestrator: values.swarm ? 'swarm' : 'compose' })
  // Ctrl-C: tear down, then exit 130. main() waits for it rather than exiting under it.
  let interrupted: Promise<number> | undefined
  const onSignal = (signal: NodeJS.Signals) => {
    if (interrupted) return
    console.error(`\nsandbox: ${signal}: tearing down…`)
    sandbox.abort(signal)
    interrupted = sandbox.down().then(
      (done) => {
        console.error(done.map((line) => `sandbox: ${line}`).join('\n'))
        return 130
      },
      (error: Error) => {
        console.error(error.message)
        return 130
      }
    )
  }
  process.on('SIGINT', onSignal)
  process.on('SIGTERM', onSignal)

  let code = 1
  try {
    const result = await runScenario(sandbox)
    code = result.asExpected ? 0 : 1
    sandbox.narrator.line('')
    sandbox.narrator.line(
      `  ${result.asExpected ? 'All three releases went as expected' : 'Something did not go as expected (see above)'}; ` +
        `sandbox total ${formatDuration(sandbox.narrator.elapsedMs())}.`
    )
  } catch (error) {
    if (!interrupted) console.error(`\nsandbox: ${(error as Error).stack ?? String(error)}`)
  } finally {
    if (interrupted) code = await interrupted
    else {
      if (values.keep) {
        await sandbox.keep()
        const { vm } = sandbox
        console.log('')
        console.log('== Kept running (--keep)')
        console.log(`  api      curl ${sandbox.url('api')}`)
        console.log(`  worker   curl ${sandbox.url('worker')}`)
        console.log(
          `  VM       ssh -i ${vm.privateKeyPath} -o UserKnownHostsFile=${vm.knownHostsPath} -p ${vm.port} ${vm.username}@${vm.host}`
        )
        console.log(`           stack files in ${vm.remoteDir}; ${sandbox.target.lookCommand(sandbox.projectName)}`)
        console.log(`  registry http://${sandbox.registry.address}/v2/_catalog`)
        console.log(`  repos    git clone ${sandbox.infra.remote.bareDir}`)
        console.log(`  Remove it all with: bash scripts/sandbox.sh --down`)
      } else {
        const step = sandbox.narrator.step('Tear down (use --keep to leave the stack running)')
        try {
          for (const line of await sandbox.down()) step.note(line)
          step.done('nothing left behind')
        } catch (error) {
          step.fail((error as Error).message)
          code = 1
        }
      }
    }
  }
  return code
}

// Child processes (sshd, registry) kept with --keep would hold the event loop open: exit explicitly.
main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(`sandbox: ${(error as Error).message ?? String(error)}`)
    process.exit(1)
  }
)
