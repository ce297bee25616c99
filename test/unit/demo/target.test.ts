import { parse } from 'yaml'
import { composeTarget, stackTarget, swarmTarget, type InitialComposeOptions } from '@gitops-lite/demo'

const options: InitialComposeOptions = {
  registry: '127.0.0.1:5000',
  ports: { api: 18080, worker: 18081 },
  proxyImage: '127.0.0.1:5000/demo/proxy:nginx'
}

type Service = {
  image: string
  ports?: unknown[]
  configs?: { source: string; target: string }[]
  volumes?: string[]
  deploy?: {
    replicas?: number
    endpoint_mode?: string
    update_config?: Record<string, unknown>
    rollback_config?: Record<string, unknown>
  }
}
type File = { services: Record<string, Service>; configs?: Record<string, { file: string }> }

describe('stackTarget', () => {
  it('is Compose unless swarm is asked for', () => {
    expect(stackTarget()).toBe(composeTarget)
    expect(stackTarget('compose')).toBe(composeTarget)
    expect(stackTarget('swarm')).toBe(swarmTarget)
    expect(composeTarget.deployInputs).toEqual({})
    expect(swarmTarget.deployInputs).toEqual({ orchestrator: 'swarm' })
  })
})

describe('the initial compose.yaml', () => {
  it('on Compose: api start-first behind the proxy, ports on 127.0.0.1, the proxy config mounted', () => {
    const file = parse(composeTarget.initialCompose(options)) as File
    expect(Object.keys(file.services)).toEqual(['api', 'proxy', 'worker'])
    expect(file.services.api.image).toBe('127.0.0.1:5000/demo/api:v0')
    expect(file.services.api.deploy?.update_config).toMatchObject({ order: 'start-first' })
    expect(file.services.proxy.ports).toEqual(['127.0.0.1:18080:80'])
    expect(file.services.proxy.volumes).toEqual(['./proxy/nginx.conf:/etc/nginx/nginx.conf:ro'])
    expect(file.services.worker.ports).toEqual(['127.0.0.1:18081:80'])
  })

  it('on Swarm: 2 api tasks updated and rolled back start-first, DNS round robin, host-mode ports, the proxy config as a Swarm config', () => {
    const file = parse(swarmTarget.initialCompose(options)) as File
    expect(Object.keys(file.services)).toEqual(['api', 'proxy', 'worker'])
    const { api, proxy, worker } = file.services
    expect(api.image).toBe('127.0.0.1:5000/demo/api:v0')
    expect(worker.image).toBe('127.0.0.1:5000/demo/worker:v0')
    expect(api.deploy).toMatchObject({
      replicas: 2,
      update_config: { order: 'start-first', parallelism: 1 },
      rollback_config: { order: 'start-first' }
    })
    // No routing mesh, no virtual IPs: every service dnsrr, every port published on the node.
    for (const service of [api, proxy, worker]) expect(service.deploy?.endpoint_mode).toBe('dnsrr')
    expect(proxy.ports).toEqual([{ target: 80, published: 18080, mode: 'host' }])
    expect(worker.ports).toEqual([{ target: 80, published: 18081, mode: 'host' }])
    expect(proxy.volumes).toBeUndefined()
    expect(proxy.configs).toEqual([{ source: 'proxy', target: '/etc/nginx/nginx.conf' }])
    expect(file.configs).toEqual({ proxy: { file: './proxy/nginx.conf' } })
  })

  it('has one image line per service, the line bump-image-tag edits', () => {
    for (const target of [composeTarget, swarmTarget]) {
      const text = target.initialCompose(options)
      expect(text.match(/^ {4}image: .*\/demo\/api:v0$/gm)).toHaveLength(1)
      expect(text.match(/^ {4}image: .*\/demo\/worker:v0$/gm)).toHaveLength(1)
    }
  })
})
