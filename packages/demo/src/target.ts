import { ensureSwarm, removeComposeProject, removeSwarmStack, exec } from '@gitops-lite/sandbox'
import {
  shortId,
  snapshotStack,
  snapshotSwarmStack,
  type ServiceSnapshot,
  type StackSnapshot,
  type SwarmService
} from './stack'

/** ssh-surgical-deploy's `orchestrator` input: what runs the sandbox's stack on the VM. */
export type Orchestrator = 'compose' | 'swarm'

/** The proxy's configuration in the infra repo (and on the VM, next to compose.yaml). */
export const PROXY_CONFIG = 'proxy/nginx.conf'

export interface InitialComposeOptions {
  registry: string
  /** The ports published on the host: api's (through the proxy) and worker's. */
  ports: { api: number; worker: number }
  proxyImage: string
}

/**
 * Where the sandbox's stack runs: Compose on the VM's engine, or a Swarm stack on it. The
 * releases, the workflow and the checks are the same; this is what differs.
 */
export interface StackTarget {
  readonly orchestrator: Orchestrator
  /** ssh-surgical-deploy inputs beyond the common ones. */
  readonly deployInputs: Record<string, string>
  /** Where the stack runs, in the narrative: "the VM" or "the swarm". */
  readonly where: string
  /** The narrative's title over the services' states. */
  lookTitle(name: string): string
  /** How the narrative names the stack, e.g. "compose project NAME". */
  stackName(name: string): string
  /** What a service's replacement is called in the narrative. */
  readonly replaced: string
  /** The infra repo's first compose.yaml, with placeholder tags no release has built yet. */
  initialCompose(options: InitialComposeOptions): string
  /** The stack as it runs now. */
  snapshot(name: string): Promise<StackSnapshot>
  /** One service's state on a line (after its ref). */
  describe(service: ServiceSnapshot): string
  /** A command to look at the stack, for --keep. */
  lookCommand(name: string): string
  /** What the target needs before a deploy, beyond the VM (a swarm): a step of the set-up. */
  readonly setUp?: { title: string; run(): Promise<{ note: string; initialisedSwarm: boolean }> }
  /** What `remove` removes, for the teardown's line. */
  readonly removes: string
  /** Removes the stack; false when there was none. */
  remove(name: string): Promise<boolean>
}

const header = [
  '# The stack on the VM. Deploys are commits: bump-image-tag edits an image line,',
  '# ssh-surgical-deploy brings the VM to what this file says, touching only what changed.'
]

function composeFile({ registry, ports, proxyImage }: InitialComposeOptions): string {
  return [
    ...header,
    'services:',
    '  # api is replaced start-first: its new container starts beside the old one, and the old',
    '  # one goes once the new one is healthy. The proxy publishes it and finds it by name.',
    '  api:',
    `    image: ${registry}/demo/api:v0`,
    '    restart: unless-stopped',
    '    # busybox httpd as PID 1 ignores SIGTERM: a tiny init forwards it, so a stop takes',
    "    # milliseconds instead of compose's 10 s timeout.",
    '    init: true',
    '    stop_grace_period: 2s',
    '    deploy:',
    '      update_config:',
    '        order: start-first',
    '        monitor: 2s',
    '',
    '  proxy:',
    `    image: ${proxyImage}`,
    '    ports:',
    `      - "127.0.0.1:${ports.api}:80"`,
    '    volumes:',
    `      - ./${PROXY_CONFIG}:/etc/nginx/nginx.conf:ro`,
    '    restart: unless-stopped',
    '',
    '  worker:',
    `    image: ${registry}/demo/worker:v0`,
    '    ports:',
    `      - "127.0.0.1:${ports.worker}:80"`,
    '    restart: unless-stopped',
    '    init: true',
    ''
  ].join('\n')
}

/**
 * The same stack for `docker stack deploy`. Services find each other by DNS round robin
 * (endpoint_mode: dnsrr) and publish on the node (mode: host): the routing mesh and virtual IPs
 * need an iptables/IPVS set-up that many single hosts (this bench too) lack, and a host port
 * needs neither.
 */
function swarmFile({ registry, ports, proxyImage }: InitialComposeOptions): string {
  return [
    ...header,
    'services:',
    '  # api runs 2 tasks, updated one at a time start-first: a new task starts beside the old',
    '  # one, which goes once the new one is healthy (a task joins the DNS name only then).',
    '  # A failed update pauses, and ssh-surgical-deploy rolls it back.',
    '  api:',
    `    image: ${registry}/demo/api:v0`,
    '    # busybox httpd as PID 1 ignores SIGTERM: a tiny init forwards it.',
    '    init: true',
    '    stop_grace_period: 2s',
    '    deploy:',
    '      replicas: 2',
    '      endpoint_mode: dnsrr',
    '      update_config:',
    '        order: start-first',
    '        parallelism: 1',
    '        monitor: 2s',
    '      rollback_config:',
    '        order: start-first',
    '',
    '  # nginx asks Docker DNS for api every second and retries a failed connection on the',
    '  # other task; it publishes api on the node. A host-mode port is held by one task per',
    '  # node, so proxy and worker are updated stop-first (the default).',
    '  proxy:',
    `    image: ${proxyImage}`,
    '    ports:',
    `      - { target: 80, published: ${ports.api}, mode: host }`,
    '    configs:',
    '      - source: proxy',
    '        target: /etc/nginx/nginx.conf',
    '    deploy:',
    '      endpoint_mode: dnsrr',
    '',
    '  worker:',
    `    image: ${registry}/demo/worker:v0`,
    '    init: true',
    '    ports:',
    `      - { target: 80, published: ${ports.worker}, mode: host }`,
    '    deploy:',
    '      endpoint_mode: dnsrr',
    '',
    '# A Swarm config: ssh-surgical-deploy names it by content, so a change makes a new one.',
    'configs:',
    '  proxy:',
    `    file: ./${PROXY_CONFIG}`,
    ''
  ].join('\n')
}

function withHealth(service: ServiceSnapshot): string {
  return `${service.status}${service.health ? `/${service.health}` : ''}`
}

export const composeTarget: StackTarget = {
  orchestrator: 'compose',
  deployInputs: {},
  where: 'the VM',
  stackName: (name) => `compose project ${name}`,
  lookTitle: (name) => `containers on the VM (compose project ${name})`,
  replaced: 'recreated',
  initialCompose: composeFile,
  snapshot: snapshotStack,
  describe: (service) => `${withHealth(service)}  ${shortImage(service.image)}`,
  lookCommand: (name) => `docker compose -p ${name} ps`,
  removes: 'containers, network',
  async remove(name) {
    const filter = `label=com.docker.compose.project=${name}`
    const containers = (await exec('docker', ['ps', '-aq', '--filter', filter])).stdout.trim()
    const networks = (await exec('docker', ['network', 'ls', '-q', '--filter', filter])).stdout.trim()
    if (containers === '' && networks === '') return false
    await removeComposeProject(name)
    return true
  }
}

export const swarmTarget: StackTarget = {
  orchestrator: 'swarm',
  deployInputs: { orchestrator: 'swarm' },
  where: 'the swarm',
  stackName: (name) => `stack ${name} on the swarm`,
  lookTitle: (name) => `services of stack ${name} on the swarm (spec version, running tasks)`,
  replaced: 'updated',
  initialCompose: swarmFile,
  snapshot: snapshotSwarmStack,
  describe: (service) => {
    const { tasks } = service as SwarmService
    return `${withHealth(service)}, tasks ${tasks.map((t) => shortId(t.id)).join(' ') || '-'}  ${shortImage(service.image)}`
  },
  lookCommand: (name) => `docker stack services ${name}; docker stack ps ${name}`,
  removes: 'services, configs, network',
  setUp: {
    title: 'A single-node Docker Swarm on this engine (the VM is its manager)',
    async run() {
      const { initialised } = await ensureSwarm()
      return {
        note: initialised
          ? 'this engine was in no swarm: made it a single-node one (the teardown leaves it again)'
          : 'this engine is already in a swarm: the sandbox uses it and leaves it as it is',
        initialisedSwarm: initialised
      }
    }
  },
  remove: (name) => removeSwarmStack(name)
}

export function stackTarget(orchestrator: Orchestrator = 'compose'): StackTarget {
  return orchestrator === 'swarm' ? swarmTarget : composeTarget
}

/** An image reference with its digest cut short. */
export function shortImage(reference: string): string {
  return reference.replace(/@sha256:([0-9a-f]{12})[0-9a-f]+$/, '@sha256:$1…')
}
