import { RUN_NAME_LINE, UserError, type WorkflowRun } from '@gitops-lite/core'
import { deployOutcome, type WaitContext } from '../../../../actions/dispatch-to-infra/src/outcome'

const context: WaitContext = {
  target: 'acme/infra',
  eventType: 'deploy',
  correlationId: 'c-1',
  waitTimeoutMs: 900_000,
  findTimeoutMs: 300_000
}

function run(id: number, status: string, conclusion: string | null = null): WorkflowRun {
  return {
    id,
    status,
    conclusion,
    html_url: `https://github.com/acme/infra/actions/runs/${id}`,
    created_at: `2025-03-01T10:00:0${id}Z`
  }
}

const link = (id: number) => `<a href="https://github.com/acme/infra/actions/runs/${id}">run ${id}</a>`

describe('deployOutcome', () => {
  it('a run that succeeded: its conclusion, no failure', () => {
    const outcome = deployOutcome({ state: 'completed', runs: [run(1, 'completed', 'success')] }, context)
    expect(outcome).toEqual({
      conclusion: 'success',
      run: run(1, 'completed', 'success'),
      summary: [`The deploy ${link(1)} concluded <code>success</code>.`],
      failure: undefined
    })
  })

  it.each(['failure', 'cancelled', 'timed_out'])(
    "a run that concluded '%s' fails the step with that conclusion",
    (conclusion) => {
      const outcome = deployOutcome({ state: 'completed', runs: [run(1, 'completed', conclusion)] }, context)
      expect(outcome.conclusion).toBe(conclusion)
      expect(outcome.failure?.message).toBe(
        `The deploy run https://github.com/acme/infra/actions/runs/1 concluded '${conclusion}'`
      )
      expect(outcome.failure?.fix).toBe('The change did not reach the VMs: see the run in the infra repository.')
    }
  )

  it('several runs of one event: the outputs name the failing one, and the message and summary say there were several', () => {
    const runs = [run(1, 'completed', 'success'), run(2, 'completed', 'failure')]
    const outcome = deployOutcome({ state: 'completed', runs }, context)
    expect(outcome.conclusion).toBe('failure')
    expect(outcome.run).toBe(runs[1])
    expect(outcome.failure?.message).toBe(
      "The deploy run https://github.com/acme/infra/actions/runs/2 concluded 'failure' (one of 2 runs carrying the correlation id c-1)"
    )
    expect(outcome.summary).toEqual([
      '2 runs carry the correlation id <code>c-1</code>: a retried delivery, or several workflows whose run-name carries it. The step fails if any of them fails.',
      `The deploy ${link(1)} concluded <code>success</code>.`,
      `The deploy ${link(2)} concluded <code>failure</code>.`
    ])
  })

  it('several runs that all succeeded: the outputs name the oldest', () => {
    const outcome = deployOutcome(
      { state: 'completed', runs: [run(1, 'completed', 'success'), run(2, 'completed', 'success')] },
      context
    )
    expect(outcome).toMatchObject({ conclusion: 'success', run: { id: 1 }, failure: undefined })
  })

  it('timed out: wait-timeout, with the limit in units', () => {
    const outcome = deployOutcome({ state: 'timed-out', runs: [run(1, 'in_progress')] }, context)
    expect(outcome.conclusion).toBe('wait-timeout')
    expect(outcome.run?.id).toBe(1)
    expect(outcome.failure?.message).toBe(
      'The deploy run https://github.com/acme/infra/actions/runs/1 did not complete within 15m; it is still in_progress'
    )
    expect(outcome.summary).toEqual([`The deploy ${link(1)} was still <code>in_progress</code> after 15m.`])
  })

  it("GitHub's API failed after the run was found: unknown, with the run, saying the event was sent and what to do", () => {
    const error = new UserError(
      'Could not list the repository_dispatch workflow runs of acme/infra: GitHub kept failing (503 Service Unavailable) after the retries',
      {
        fix: 'GitHub may be having an incident (see its status page); re-run the job later.'
      }
    )
    const outcome = deployOutcome({ state: 'unreadable', runs: [run(1, 'in_progress')], error }, context)
    expect(outcome.conclusion).toBe('unknown')
    expect(outcome.run?.id).toBe(1)
    expect(outcome.failure?.message).toBe(
      "The 'deploy' event was sent to acme/infra, and the deploy run https://github.com/acme/infra/actions/runs/1 may still be running, but reading it failed: " +
        error.message
    )
    expect(outcome.failure?.fix).toBe(
      `See the run for how the deploy ends; re-running this job would send the event again. ${error.fix}`
    )
    expect(outcome.summary).toEqual([
      `The deploy ${link(1)} was still <code>in_progress</code> when reading it failed; it may still be running.`
    ])
  })

  it("GitHub's API failed before any run was found: unknown, no run, where to look", () => {
    const error = new UserError(
      'Could not list the repository_dispatch workflow runs of acme/infra: the token is not allowed to (403 Forbidden)'
    )
    const outcome = deployOutcome({ state: 'unreadable', runs: [], error }, context)
    expect(outcome.conclusion).toBe('unknown')
    expect(outcome.run).toBeUndefined()
    expect(outcome.failure?.message).toBe(
      `The 'deploy' event was sent to acme/infra, and its deploy run may still be running, but looking for it failed: ${error.message}`
    )
    expect(outcome.failure?.fix).toBe(
      "Look for the run named with c-1 in acme/infra's Actions tab; re-running this job would send the event again."
    )
    expect(outcome.summary).toEqual([
      'The <code>deploy</code> event was sent, but looking for its run failed; it may still be running.'
    ])
  })

  it('no run carried the id: run-not-found, naming the shorter of the limits and the run-name line', () => {
    const outcome = deployOutcome({ state: 'not-found', runs: [] }, context)
    expect(outcome.conclusion).toBe('run-not-found')
    expect(outcome.failure?.message).toBe(
      "No repository_dispatch run of acme/infra has 'c-1' in its name within 5m of the dispatch"
    )
    expect(outcome.failure?.fix).toContain(RUN_NAME_LINE)
    expect(
      deployOutcome({ state: 'not-found', runs: [] }, { ...context, waitTimeoutMs: 90_000 }).failure?.message
    ).toMatch(/in its name within 1m 30s$/)
  })
})

describe('deployOutcome after a rollback that was written back to Git', () => {
  it('names the commit that put Git back in the failure and the summary', () => {
    const failed = { ...run(1, 'completed', 'failure') }
    const commit = {
      sha: 'c'.repeat(40),
      html_url: `https://github.com/acme/infra/commit/${'c'.repeat(40)}`,
      commit: { message: 'revert(deploy): api back to v2' }
    }
    const outcome = deployOutcome({ state: 'completed', runs: [failed] }, context, commit)
    expect(outcome.conclusion).toBe('failure')
    expect(outcome.failure?.message).toBe(
      `The deploy run ${failed.html_url} concluded 'failure'; the VMs were rolled back and Git was put back to what they run by ${commit.html_url}`
    )
    expect(outcome.summary.at(-1)).toBe(
      `Git was put back to what the VMs run by <a href="${commit.html_url}">ccccccc</a>.`
    )
  })
})
