import type { ServiceUpdate } from '@gitops-lite/core'
import { bumpOutputs } from '../../../../actions/bump-image-tag/src/outcome'

function update(service: string, changed: boolean): ServiceUpdate {
  return {
    service,
    file: 'compose.yaml',
    line: 3,
    editedIn: 'image',
    previous: `acme/${service}:v1`,
    image: `acme/${service}:v2`,
    unset: [],
    changed
  }
}

describe('bumpOutputs', () => {
  it('names the changed services, their previous images, and where the change went', () => {
    const outputs = bumpOutputs([update('api', true), update('worker', false)], {
      changed: true,
      commitSha: 'abc',
      diff: '--- a\n+++ b\n',
      promoted: false
    })
    expect(outputs).toEqual({
      changed: 'true',
      services: '["api"]',
      previous: '{"api":"acme/api:v1"}',
      image: 'acme/api:v2\nacme/worker:v2',
      'commit-sha': 'abc',
      'pull-request-url': '',
      diff: '--- a\n+++ b\n',
      promoted: ''
    })
  })

  it('names no service when nothing changed', () => {
    expect(bumpOutputs([update('api', false)], { changed: false, diff: '', promoted: false })).toMatchObject({
      changed: 'false',
      services: '[]',
      previous: '{}'
    })
  })

  it('says, when promoting, what moved from where to where', () => {
    const outputs = bumpOutputs([update('api', true)], { changed: true, diff: 'x', promoted: true })
    expect(JSON.parse(outputs.promoted)).toEqual({ api: { from: 'acme/api:v1', to: 'acme/api:v2' } })
  })
})
