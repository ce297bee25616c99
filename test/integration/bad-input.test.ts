// The bad-input suite: the three committed bundles, run as the runner runs them, fed missing,
// malformed and hostile inputs and files. Every case must fail with an ::error that names the
// problem, print no stack trace and no workflow command of the attacker's, and change nothing:
// no commit on the bare remote, no repository_dispatch sent, no file on the VM touched.
// Most cases never connect anywhere; they run a few at a time.
import { existsSync } from 'node:fs'
import { mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises'
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import {
  FakeGitHub,
  ProcessGroup,
  createGitRemote,
  ensureDocker,
  exec,
  freePort,
  startSshHost,
  type SshHost
} from '@gitops-lite/sandbox'
import { runAction, type ActionName, type ActionRun } from '../helpers/run-action'
import { treeSnapshot } from '../helpers/tree-snapshot'
import { foreignCommands } from '../helpers/workflow-commands'

const timeout = 120_000

interface Case {
  name: string
  action: ActionName
  inputs: Record<string, string>
  /** Files of the workspace (the clone, for bump-image-tag), over the action's usual ones; null removes one. */
  files?: Record<string, string | Buffer | null>
  /** Symbolic links to create in the workspace: path -> target. */
  links?: Record<string, string>
  /** What the ::error must say. */
  error: RegExp
  /** Files in the VM's remote-dir for this case (it gets its own); the inspection reads them with Docker. */
  vm?: Record<string, string>
}

// --- hostile values, each tried on every input that must refuse them --------------------------

const pwned = join(tmpdir(), `gitops-lite-pwned-${process.pid}`)
const hostile: Record<string, string> = {
  'command substitution': `$(touch ${pwned})`,
  backticks: `\`touch ${pwned}\``,
  quotes: `it's "quoted"`,
  'a newline and a workflow command': 'x\n::warning::INJECTED',
  'a leading dash': '--remove-orphans',
  'a workflow command': '::stop-commands::INJECTED',
  'control characters': 'x\r::error::INJECTED \u001b[31m ##[error]INJECTED\u0007'
}

function crossed(action: ActionName, fields: Record<string, RegExp>): Case[] {
  return Object.entries(fields).flatMap(([input, error]) =>
    Object.entries(hostile).map(([what, value]) => ({
      name: `${input} with ${what}`,
      action,
      inputs: { [input]: value },
      error
    }))
  )
}

// --- the three actions' usual inputs and files -------------------------------------------------

const compose = 'services:\n  api:\n    image: ghcr.io/acme/api:v1.0.0\n  web:\n    image: ghcr.io/acme/web:v1.0.0\n'
const TOKEN = 'github_pat_11AAAAAAA0badinputsuite0123456789abcdefghijklmnopqrstuvwxyz'
const big = `services:\n  api:\n    image: ghcr.io/acme/api:v1\n${'# padding padding padding padding padding padding padding padding padding pad\n'.repeat(270_000)}`

const bumpCases: Case[] = (
  [
    ...crossed('bump-image-tag', {
      service: /Input 'service' .* is not a valid compose service name/,
      tag: /Input 'tag' .* is not a valid image tag/,
      image: /Input 'image' .* is not an image repository/,
      digest: /Input 'digest' .* is not a valid image digest/,
      branch: /Input 'branch' .* is not a valid branch name/,
      'working-directory': /Input 'working-directory' .* is not a path inside the workspace|No compose file in /,
      files: /Input 'files' .* is not a path inside the workspace|Compose file .* does not exist/,
      'author-email': /Input 'author-email' .* is not an email address/,
      'allowed-registries': /Input 'allowed-registries' entry .* is not a registry host/,
      'max-attempts': /Input 'max-attempts' must be a whole number/,
      'dry-run': /Input 'dry-run' must be 'true' or 'false'/
    }),
    {
      name: 'no tag',
      action: 'bump-image-tag',
      inputs: { tag: '' },
      error: /'service' is set but 'tag' is empty|Input 'tag' is required/
    },
    {
      name: 'no service, image or tag',
      action: 'bump-image-tag',
      inputs: { service: '', tag: '' },
      error: /Inputs 'service' \(or 'image'\) and 'tag' are empty/
    },
    {
      name: 'a mutable tag',
      action: 'bump-image-tag',
      inputs: { tag: 'latest' },
      error: /The tag "latest" is mutable/
    },
    {
      name: 'an absolute path in files',
      action: 'bump-image-tag',
      inputs: { files: '/etc/passwd' },
      error: /not a path inside the workspace/
    },
    {
      name: 'a working-directory above the workspace',
      action: 'bump-image-tag',
      inputs: { 'working-directory': '../..' },
      error: /not a path inside the workspace/
    },
    {
      name: 'a compose file linked outside the workspace',
      action: 'bump-image-tag',
      inputs: {},
      files: { 'compose.yaml': null },
      links: { 'compose.yaml': '/etc/hostname' },
      error: /symbolic link that leads outside the workspace|not a path inside/
    },
    {
      name: 'an env file linked outside the workspace',
      action: 'bump-image-tag',
      inputs: {},
      links: { '.env': '/etc/hostname' },
      error: /\.env is a symbolic link that leads outside the workspace/
    },
    {
      name: 'a token with a newline in pull-request mode',
      action: 'bump-image-tag',
      inputs: { 'pull-request': 'true', token: `${TOKEN}\nx` },
      error: /Input 'token' contains a line break/
    },
    {
      name: 'pull-request without a token',
      action: 'bump-image-tag',
      inputs: { 'pull-request': 'true', token: '' },
      error: /Input 'token' is empty/
    },
    {
      name: 'pull-request with push false',
      action: 'bump-image-tag',
      inputs: { 'pull-request': 'true', push: 'false' },
      error: /'push' is false/
    },
    {
      name: 'an author name with a newline',
      action: 'bump-image-tag',
      inputs: { 'author-name': 'bot\n::warning::INJECTED' },
      error: /Input 'author-name' .* contains < > or a line break/
    },
    {
      name: 'a service the files do not define',
      action: 'bump-image-tag',
      inputs: { service: 'nosuch' },
      error: /nosuch/
    },
    {
      name: 'a compose file with a syntax error',
      action: 'bump-image-tag',
      inputs: {},
      files: { 'compose.yaml': 'services:\n  api:\n    image: [oops\n' },
      error: /compose\.yaml is not valid YAML/
    },
    {
      name: 'a compose file with duplicate keys',
      action: 'bump-image-tag',
      inputs: {},
      files: { 'compose.yaml': `${compose}  api:\n    image: x:1\n` },
      error: /compose\.yaml is not valid YAML: Map keys must be unique/
    },
    {
      name: 'a compose file indented with tabs',
      action: 'bump-image-tag',
      inputs: {},
      files: { 'compose.yaml': 'services:\n\tapi:\n\t\timage: x:1\n' },
      error: /compose\.yaml is not valid YAML/
    },
    {
      name: 'an empty compose file',
      action: 'bump-image-tag',
      inputs: {},
      files: { 'compose.yaml': '' },
      error: /compose\.yaml is empty/
    },
    {
      name: 'a 20 MB compose file',
      action: 'bump-image-tag',
      inputs: {},
      files: { 'compose.yaml': big },
      error: /compose\.yaml is 2\d\.\d MB; compose files over 2 MB are refused/
    },
    {
      name: 'a Latin-1 comment in the compose file',
      action: 'bump-image-tag',
      inputs: {},
      files: { 'compose.yaml': Buffer.concat([Buffer.from(compose), Buffer.from('# caf\xe9\n', 'latin1')]) },
      error: /compose\.yaml is not UTF-8 text \(line 6/
    },
    {
      name: 'a Latin-1 password in the env file',
      action: 'bump-image-tag',
      inputs: {},
      files: {
        'compose.yaml': 'services:\n  api:\n    image: ghcr.io/acme/api:${API_TAG}\n',
        '.env': Buffer.from('API_TAG=v1\nPASSWORD=p\xe4ss\n', 'latin1')
      },
      error: /\.env is not UTF-8 text \(line 2/
    },
    {
      name: 'a service named like an option in the compose file',
      action: 'bump-image-tag',
      inputs: {},
      files: { 'compose.yaml': `${compose}  --remove-orphans:\n    image: x:1\n` },
      error: /defines the service "--remove-orphans", which is not a valid compose service name/
    },
    {
      name: 'a service name with a newline in the compose file',
      action: 'bump-image-tag',
      inputs: {},
      files: { 'compose.yaml': `${compose}  "x\\n::warning::INJECTED":\n    image: x:1\n` },
      error: /which is not a valid compose service name/
    }
  ] as Case[]
).map((c) => ({ ...c, inputs: { service: 'api', tag: 'v2', ...c.inputs } }))

const dispatchCases: Case[] = (
  [
    ...crossed('dispatch-to-infra', {
      repository: /Input 'repository' .* is not a GitHub repository/,
      service: /Input 'service' .* is not a valid compose service name/,
      image: /Input 'image' .* is not an image repository/,
      tag: /Input 'tag' .* is not a valid image tag/,
      digest: /Input 'digest' .* is not a valid image digest/,
      environment: /Input 'environment' must be a name/,
      wait: /Input 'wait' must be 'true' or 'false'/,
      'wait-timeout': /Input 'wait-timeout' must be a duration/,
      'api-url': /Input 'api-url' must be an http\(s\) URL/,
      'client-payload': /Input 'client-payload' is not valid JSON/
    }),
    {
      name: 'no token',
      action: 'dispatch-to-infra',
      inputs: { token: '' },
      error: /Input 'token' is required but was empty/
    },
    {
      name: 'a token with a newline',
      action: 'dispatch-to-infra',
      inputs: { token: `${TOKEN}\n${TOKEN}` },
      error: /Input 'token' contains a line break/
    },
    {
      name: 'a token with a space',
      action: 'dispatch-to-infra',
      inputs: { token: `Bearer ${TOKEN}` },
      error: /Input 'token' contains a line break, a space/
    },
    {
      name: 'no repository',
      action: 'dispatch-to-infra',
      inputs: { repository: '' },
      error: /Input 'repository' is required/
    },
    {
      name: 'no service',
      action: 'dispatch-to-infra',
      inputs: { service: '' },
      error: /Neither 'service' nor 'services' was given/
    },
    {
      name: 'service without a tag',
      action: 'dispatch-to-infra',
      inputs: { tag: '' },
      error: /Input 'tag' is required with 'service'/
    },
    {
      name: 'an event-type with a newline and a command',
      action: 'dispatch-to-infra',
      inputs: { 'event-type': 'deploy\n::warning::INJECTED' },
      error: /Input 'event-type' .* contains a line break/
    },
    {
      name: "an event-type over GitHub's limit",
      action: 'dispatch-to-infra',
      inputs: { 'event-type': 'e'.repeat(101) },
      error: /event-type is 101 characters/
    },
    {
      name: 'a wait-timeout of 0',
      action: 'dispatch-to-infra',
      inputs: { 'wait-timeout': '0' },
      error: /Input 'wait-timeout' must be from 1s to 6h, got "0"/
    },
    {
      name: 'plain http to another host',
      action: 'dispatch-to-infra',
      inputs: { 'api-url': 'http://api.example.com' },
      error: /plain http/
    },
    {
      name: 'services that is not a list',
      action: 'dispatch-to-infra',
      inputs: { service: '', image: '', tag: '', digest: '', services: '{}' },
      error: /Input 'services' must be a non-empty JSON array/
    },
    {
      name: 'services with a name like an option',
      action: 'dispatch-to-infra',
      inputs: {
        service: '',
        image: '',
        tag: '',
        digest: '',
        services: '[{"service":"--remove-orphans","image":"ghcr.io/acme/api","tag":"v1"}]'
      },
      error: /services\[0\]\.service .* is not a valid compose service name/
    },
    {
      name: 'services with a number for a tag',
      action: 'dispatch-to-infra',
      inputs: {
        service: '',
        image: '',
        tag: '',
        digest: '',
        services: '[{"service":"api","image":"ghcr.io/acme/api","tag":1}]'
      },
      error: /services\[0\]\.tag must be a string/
    },
    {
      name: 'services with an unknown key',
      action: 'dispatch-to-infra',
      inputs: {
        service: '',
        image: '',
        tag: '',
        digest: '',
        services: '[{"service":"api","image":"ghcr.io/acme/api","tag":"v1","$(x)":1}]'
      },
      error: /unknown keys/
    },
    {
      name: 'services and service both',
      action: 'dispatch-to-infra',
      inputs: { services: '[]' },
      error: /were both given/
    },
    {
      name: 'an upper-case image',
      action: 'dispatch-to-infra',
      inputs: { image: 'ghcr.io/Acme/API' },
      error: /is not an image repository/
    }
  ] as Case[]
).map((c) => ({
  ...c,
  inputs: {
    token: TOKEN,
    repository: 'acme/infra',
    service: 'api',
    image: 'ghcr.io/acme/api',
    tag: 'v1.2.3',
    ...c.inputs
  }
}))

/** Inputs and files of the ssh-surgical-deploy cases; host, key and known-hosts come from the VM. */
const deployFiles = {
  'compose.yaml': 'services:\n  web:\n    image: ghcr.io/acme/web:v1\n    volumes: ["./conf/motd.txt:/motd.txt:ro"]\n',
  'conf/motd.txt': 'hello\n'
}
const withImage = (image: string) => ({ 'compose.yaml': `services:\n  web:\n    image: ${image}\n` })

const deployCases: Case[] = [
  ...crossed('ssh-surgical-deploy', {
    host: /Input 'host' "/,
    port: /Input 'port' must be a whole number/,
    username: /Input 'username' .* is not a valid login name/,
    'project-name': /Input 'project-name' .* is not a compose project name/,
    services: /Input 'services' .* is not a valid compose service name/,
    mode: /Input 'mode' must be one of/,
    'compose-command': /Input 'compose-command' must be one of/,
    fingerprint: /Input 'fingerprint' .* is not a SHA256 host key fingerprint/,
    'connect-timeout': /Input 'connect-timeout' must be a duration/,
    'health-timeout': /Input 'health-timeout' must be a duration/,
    pull: /Input 'pull' must be 'true' or 'false'/,
    files:
      /Input 'files' (entry )?.* (is not a path inside the workspace|cannot be uploaded|is not a file)|lists no compose file/,
    'known-hosts': /Input 'known-hosts' line 1 .* is not a known_hosts line/,
    key: /Input 'key' is not a private key ssh2 can read/,
    'proxy-host': /Input 'proxy-host' "/
  }),
  { name: 'no host', action: 'ssh-surgical-deploy', inputs: { host: '' }, error: /Input 'host' is required/ },
  { name: 'no key', action: 'ssh-surgical-deploy', inputs: { key: '' }, error: /Input 'key' is required/ },
  {
    name: 'no remote-dir',
    action: 'ssh-surgical-deploy',
    inputs: { 'remote-dir': '' },
    error: /Input 'remote-dir' is required/
  },
  {
    name: 'a remote-dir with ..',
    action: 'ssh-surgical-deploy',
    inputs: { 'remote-dir': '/srv/../etc' },
    error: /Input 'remote-dir' .* is not a usable directory/
  },
  {
    name: 'a remote-dir with a newline',
    action: 'ssh-surgical-deploy',
    inputs: { 'remote-dir': '/srv/app\n::warning::INJECTED' },
    error: /Input 'remote-dir' .* is not a usable directory/
  },
  {
    name: 'no host key to trust',
    action: 'ssh-surgical-deploy',
    inputs: { 'known-hosts': '', fingerprint: '' },
    error: /Neither 'known-hosts' nor 'fingerprint'/
  },
  {
    name: 'a public key as the key',
    action: 'ssh-surgical-deploy',
    inputs: { key: 'PUBLIC' },
    error: /Input 'key' holds a public key/
  },
  {
    name: 'a private key cut short',
    action: 'ssh-surgical-deploy',
    inputs: { key: 'CUT' },
    error: /Input 'key' is not a private key ssh2 can read/
  },
  {
    name: 'an encrypted key without its passphrase',
    action: 'ssh-surgical-deploy',
    inputs: { key: 'ENCRYPTED' },
    error: /Input 'key' is an encrypted private key, but 'passphrase' is empty/
  },
  {
    name: 'an encrypted key with a wrong passphrase',
    action: 'ssh-surgical-deploy',
    inputs: { key: 'ENCRYPTED', passphrase: 'wrong passphrase' },
    error: /Input 'key' could not be decrypted with 'passphrase'/
  },
  {
    name: 'a known_hosts line cut short',
    action: 'ssh-surgical-deploy',
    inputs: { 'known-hosts': 'CUT' },
    error: /Input 'known-hosts' line 1 .* is not a known_hosts line: its ssh-ed25519 key is cut short/
  },
  {
    name: 'a known_hosts line with an unknown marker',
    action: 'ssh-surgical-deploy',
    inputs: { 'known-hosts': '@trusted vm1 ssh-ed25519 AAAA' },
    error: /the marker @trusted is unknown/
  },
  {
    name: 'a health-timeout of 0',
    action: 'ssh-surgical-deploy',
    inputs: { 'health-timeout': '0' },
    error: /Input 'health-timeout' must be from 1s to 6h, got "0", which is 0s/
  },
  {
    name: 'a connect-timeout of 1ms',
    action: 'ssh-surgical-deploy',
    inputs: { 'connect-timeout': '1ms' },
    error: /Input 'connect-timeout' must be from 1s to 10m, got "1ms"/
  },
  {
    name: 'a lock-timeout of 0s',
    action: 'ssh-surgical-deploy',
    inputs: { 'lock-timeout': '0s' },
    error: /Input 'lock-timeout' must be from 1s to 6h/
  },
  {
    name: 'a command-timeout of 0',
    action: 'ssh-surgical-deploy',
    inputs: { 'command-timeout': '0' },
    error: /Input 'command-timeout' must be from 10s to 6h/
  },
  {
    name: 'a negative health-timeout',
    action: 'ssh-surgical-deploy',
    inputs: { 'health-timeout': '-5s' },
    error: /Input 'health-timeout' must be a duration/
  },
  {
    name: 'a .env file in files',
    action: 'ssh-surgical-deploy',
    inputs: { files: 'compose.yaml\n.env' },
    files: { '.env': 'A=1\n' },
    error: /is a \.env file: secrets stay on the VM/
  },
  {
    name: 'an absolute path in files',
    action: 'ssh-surgical-deploy',
    inputs: { files: 'compose.yaml\n/etc/passwd' },
    error: /Input 'files' (entry )?"\/etc\/passwd" is not a path inside the workspace/
  },
  {
    name: 'no compose file in files',
    action: 'ssh-surgical-deploy',
    inputs: { files: 'conf/motd.txt' },
    error: /Input 'files' lists no compose file/
  },
  {
    name: 'a compose file with a syntax error',
    action: 'ssh-surgical-deploy',
    inputs: {},
    files: { 'compose.yaml': 'services: [oops\n' },
    error: /compose\.yaml is not valid YAML/
  },
  {
    name: 'a compose file with duplicate keys',
    action: 'ssh-surgical-deploy',
    inputs: {},
    files: { 'compose.yaml': 'services:\n  web:\n    image: a:1\n  web:\n    image: b:1\n' },
    error: /Map keys must be unique/
  },
  {
    name: 'a compose file indented with tabs',
    action: 'ssh-surgical-deploy',
    inputs: {},
    files: { 'compose.yaml': 'services:\n\tweb:\n\t\timage: a:1\n' },
    error: /compose\.yaml is not valid YAML/
  },
  {
    name: 'an empty compose file',
    action: 'ssh-surgical-deploy',
    inputs: {},
    files: { 'compose.yaml': '' },
    error: /compose\.yaml is empty/
  },
  {
    name: 'a compose file that is a list',
    action: 'ssh-surgical-deploy',
    inputs: {},
    files: { 'compose.yaml': '- web\n' },
    error: /compose\.yaml is not a mapping/
  },
  {
    name: 'a 20 MB compose file',
    action: 'ssh-surgical-deploy',
    inputs: {},
    files: { 'compose.yaml': big.replace('api', 'web') },
    error: /compose\.yaml is 2\d\.\d MB; compose files over 2 MB are refused/
  },
  {
    name: 'a non-UTF-8 compose file',
    action: 'ssh-surgical-deploy',
    inputs: {},
    files: { 'compose.yaml': Buffer.from('services:\n  web:\n    image: a:1 # caf\xe9\n', 'latin1') },
    error: /compose\.yaml is not UTF-8 text \(line 3/
  },
  {
    name: 'a service named like an option',
    action: 'ssh-surgical-deploy',
    inputs: {},
    files: { 'compose.yaml': 'services:\n  --remove-orphans:\n    image: a:1\n' },
    error: /defines the service "--remove-orphans", which is not a valid compose service name/
  },
  {
    name: 'a service named -d',
    action: 'ssh-surgical-deploy',
    inputs: {},
    files: { 'compose.yaml': 'services:\n  "-d":\n    image: a:1\n' },
    error: /defines the service "-d"/
  },
  {
    name: 'an upper-case image',
    action: 'ssh-surgical-deploy',
    inputs: {},
    files: withImage('Nginx:1.27'),
    error:
      /Service 'web' has the image "Nginx:1.27" in compose\.yaml, which docker cannot pull: its repository path has upper-case/
  },
  {
    name: 'an image with a space',
    action: 'ssh-surgical-deploy',
    inputs: {},
    files: withImage('"nginx 1.27"'),
    error: /Service 'web' has the image "nginx 1.27" .* white space/
  },
  {
    name: 'an image with a malformed digest',
    action: 'ssh-surgical-deploy',
    inputs: {},
    files: withImage('nginx@sha256:abc'),
    error: /Service 'web' has the image "nginx@sha256:abc" .* its digest/
  },
  {
    name: 'an image with an empty tag',
    action: 'ssh-surgical-deploy',
    inputs: {},
    files: withImage('"nginx:"'),
    error: /Service 'web' has the image "nginx:" .* its tag is empty/
  },
  {
    name: 'an image with a newline and a command',
    action: 'ssh-surgical-deploy',
    inputs: {},
    files: withImage('"nginx:1\\n::warning::INJECTED"'),
    error: /Service 'web' has the image .* which docker cannot pull/
  },
  {
    name: 'a project-name with upper case',
    action: 'ssh-surgical-deploy',
    inputs: { 'project-name': 'Shop' },
    error: /is not a compose project name/
  },
  {
    name: 'a host with a leading dash',
    action: 'ssh-surgical-deploy',
    inputs: { host: '-oProxyCommand=touch' },
    error: /Input 'host' .* is not a host name/
  },
  // Reach the VM: the host resolves the images from its own .env, and the plan refuses them before the lock.
  {
    name: 'an image from the VM .env with a newline and a command',
    action: 'ssh-surgical-deploy',
    inputs: {},
    files: withImage('${WEB_IMAGE}'),
    vm: { '.env': 'WEB_IMAGE="nginx:1\\n::error::INJECTED"\n' },
    error:
      /Service 'web' has the image (\*\*\*|"nginx:1\\n::error::INJECTED") in the compose files as the host resolves them, which docker cannot pull/
  },
  {
    name: 'an upper-case image from the VM .env',
    action: 'ssh-surgical-deploy',
    inputs: {},
    files: withImage('${WEB_IMAGE}'),
    vm: { '.env': 'WEB_IMAGE=Acme/Web:v1\n' },
    error: /Service 'web' has the image "(\*\*\*|Acme\/Web:v1)" .* upper-case/
  },
  {
    name: 'an image without its tag from the VM .env',
    action: 'ssh-surgical-deploy',
    inputs: {},
    files: withImage('ghcr.io/acme/web:${WEB_TAG}'),
    vm: { '.env': 'WEB_TAG=\n' },
    error: /Service 'web' has the image "ghcr.io\/acme\/web:" .* its tag is empty/
  },
  {
    name: 'an env_file missing on the VM',
    action: 'ssh-surgical-deploy',
    inputs: {},
    files: { 'compose.yaml': 'services:\n  web:\n    image: a:1\n    env_file: [.web.missing.env]\n' },
    vm: {},
    error: /The inspection on .* failed \(exit code 65\)/
  }
]

// --- the parts: a git remote, GitHub's stand-in, an sshd "VM", listeners that are not SSH ------

/** The infra repository every bump case starts from; each case pushes (or not) to its own copy. */
let template: string
let github: FakeGitHub
let group: ProcessGroup
let vm: SshHost
let work: string
let keys: Record<string, string>
const listeners: Server[] = []
const sockets: Socket[] = []

/** A TCP listener on 127.0.0.1 that answers with `banner`, or says nothing. */
async function listen(banner?: string): Promise<number> {
  const server = createServer((socket) => {
    sockets.push(socket)
    socket.on('error', () => {})
    if (banner !== undefined) socket.write(banner)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  listeners.push(server)
  return (server.address() as AddressInfo).port
}

// Concurrent tests start before beforeAll hooks run: every case awaits this instead.
let parts: Promise<void> | undefined
const ready = (): Promise<void> => (parts ??= startParts())

async function startParts(): Promise<void> {
  work = await mkdtemp(join(tmpdir(), 'gitops-lite-bad-input-'))
  group = new ProcessGroup('bad-input')
  template = (await createGitRemote({ dir: join(work, 'git'), files: { 'compose.yaml': compose } })).bareDir
  github = await FakeGitHub.start({ repositories: ['acme/infra'] })
  vm = await startSshHost({ dir: join(work, 'vm'), address: '127.0.0.1', group, passphrase: 'right passphrase' })
  const publicKey = (await readFile(`${vm.privateKeyPath}.pub`, 'utf8')).trim()
  const lines = vm.privateKey.trimEnd().split('\n')
  keys = {
    PUBLIC: publicKey,
    CUT: lines.slice(0, Math.ceil(lines.length / 2)).join('\n'),
    ENCRYPTED: vm.encryptedKey!.privateKey
  }
}

afterAll(async () => {
  await parts
  for (const socket of sockets) socket.destroy()
  for (const server of listeners) server.close()
  await github?.stop()
  await group?.cleanup()
  if (work) await rm(work, { recursive: true, force: true })
}, timeout)

async function refsOf(gitDir: string): Promise<string> {
  return (await exec('git', ['-C', gitDir, 'for-each-ref', '--format=%(refname) %(objectname)'])).stdout
}

async function writeFiles(
  dir: string,
  files: Record<string, string | Buffer | null>,
  links: Record<string, string> = {}
): Promise<void> {
  for (const [path, content] of Object.entries(files)) {
    const target = join(dir, path)
    if (content === null) {
      await rm(target, { force: true })
      continue
    }
    await mkdir(join(target, '..'), { recursive: true })
    await writeFile(target, content)
  }
  for (const [path, target] of Object.entries(links)) {
    await rm(join(dir, path), { force: true })
    await symlink(target, join(dir, path))
  }
}

/** The VM's containers of a project, as ids. */
async function projectContainers(project: string): Promise<string> {
  return (await exec('docker', ['ps', '-aq', '--filter', `label=com.docker.compose.project=${project}`])).stdout
}

let caseNumber = 0

async function runCase(c: Case): Promise<{ run: ActionRun; changed: string[] }> {
  await ready()
  const n = ++caseNumber
  const dir = join(work, 'cases', String(n))
  await mkdir(dir, { recursive: true })
  const changed: string[] = []
  if (c.action === 'bump-image-tag') {
    const workspace = join(dir, 'infra')
    const bare = join(dir, 'remote.git')
    await exec('git', ['clone', '-q', '--bare', template, bare])
    const remoteRefs = await refsOf(bare)
    await exec('git', ['clone', '-q', bare, workspace])
    await writeFiles(workspace, c.files ?? {}, c.links)
    if (c.files || c.links) {
      await exec('git', ['-C', workspace, 'add', '-A'])
      await exec('git', ['-C', workspace, '-c', 'user.name=t', '-c', 'user.email=t@t', 'commit', '-qm', 'case'])
    }
    const head = (await exec('git', ['-C', workspace, 'rev-parse', 'HEAD'])).stdout
    const run = await runAction('bump-image-tag', {
      workspace,
      inputs: c.inputs,
      githubToken: TOKEN,
      env: { GITHUB_API_URL: github.url }
    })
    if ((await refsOf(bare)) !== remoteRefs) changed.push('the bare remote')
    if ((await exec('git', ['-C', workspace, 'rev-parse', 'HEAD'])).stdout !== head) changed.push('the checkout HEAD')
    if ((await exec('git', ['-C', workspace, 'status', '--porcelain'])).stdout !== '')
      changed.push('the checkout files')
    return { run, changed }
  }
  if (c.action === 'dispatch-to-infra') {
    // The run id reaches the payload's source: it tells this case's dispatches from the others'.
    const run = await runAction('dispatch-to-infra', {
      inputs: { 'api-url': github.url, ...c.inputs },
      env: { GITHUB_REPOSITORY: 'acme/app', GITHUB_RUN_ID: String(n) }
    })
    const sent = github
      .requestsTo('POST', /dispatches$/)
      .filter(
        (r) =>
          (r.body as { client_payload?: { source?: { run_id?: string } } }).client_payload?.source?.run_id === String(n)
      )
    if (sent.length > 0) changed.push('a repository_dispatch was sent')
    return { run, changed }
  }
  const workspace = join(dir, 'infra')
  await writeFiles(workspace, { ...deployFiles, ...c.files })
  const remoteDir = join(vm.remoteDir, `case-${n}`)
  const project = `gl-bad-input-${process.pid}-${n}`
  await writeFiles(remoteDir, { '.env': 'GREETING=hello\n', '.web.env': 'WEB_SECRET=s3cr3t\n', ...c.vm })
  const before = await treeSnapshot(remoteDir)
  const containersBefore = c.vm ? await projectContainers(project) : ''
  const inputs = {
    host: `${vm.username}@${vm.host}:${vm.port}`,
    key: vm.privateKey,
    'known-hosts': vm.knownHostsLine,
    'remote-dir': remoteDir,
    'project-name': project,
    files: 'compose.yaml\nconf/motd.txt',
    'connect-timeout': '5s',
    ...c.inputs
  }
  if (inputs.key in keys) inputs.key = keys[inputs.key]
  if (inputs['known-hosts'] === 'CUT') inputs['known-hosts'] = vm.knownHostsLine.slice(0, -6)
  const run = await runAction('ssh-surgical-deploy', { workspace, inputs })
  if (JSON.stringify(await treeSnapshot(remoteDir)) !== JSON.stringify(before)) changed.push(`a file in ${remoteDir}`)
  if (c.vm && (await projectContainers(project)) !== containersBefore) changed.push(`a container of ${project}`)
  return { run, changed }
}

function expectRefusal(c: Case, run: ActionRun, changed: string[]): void {
  const output = `${run.stdout}\n${run.stderr}`
  const context = `${c.action}: ${c.name}\n${output}`
  expect({ context, exitCode: run.exitCode === 0 ? 0 : 'non-zero' }).toEqual({ context, exitCode: 'non-zero' })
  const errors = run.annotations.filter((a) => a.level === 'error').map((a) => a.message)
  expect({ context, errors: errors.join('\n') }).toEqual({ context, errors: expect.stringMatching(c.error) })
  expect({
    context,
    stack: output.split('\n').filter((line) => /^\s+at .+(:\d+:\d+\)?|\(native\))$/.test(line))
  }).toEqual({ context, stack: [] })
  expect({ context, unexpected: /Unexpected error|This is a bug/.test(output) }).toEqual({ context, unexpected: false })
  expect({ context, foreign: foreignCommands(output) }).toEqual({ context, foreign: [] })
  expect({ context, changed }).toEqual({ context, changed: [] })
}

const allCases = [...bumpCases, ...dispatchCases, ...deployCases]

describe('bad input: every case fails clearly and changes nothing', () => {
  it('holds at least 150 cases, each with its own name', async () => {
    await ready()
    expect(allCases.length).toBeGreaterThanOrEqual(150)
    expect(new Set(allCases.map((c) => `${c.action}: ${c.name}`)).size).toBe(allCases.length)
  })

  // The cases are independent processes; jest runs at most maxConcurrency (5) at once.
  it.concurrent.each(allCases.filter((c) => !c.vm).map((c) => [`${c.action}: ${c.name}`, c] as const))(
    '%s',
    async (_, c) => {
      const { run, changed } = await runCase(c)
      expectRefusal(c, run, changed)
    },
    timeout
  )

  describe('on the VM (the host resolves the files with Docker Compose)', () => {
    beforeAll(async () => {
      await ensureDocker()
    }, timeout)

    it.each(allCases.filter((c) => c.vm).map((c) => [`${c.action}: ${c.name}`, c] as const))(
      '%s',
      async (_, c) => {
        const { run, changed } = await runCase(c)
        expectRefusal(c, run, changed)
      },
      timeout
    )
  })

  describe('hosts that cannot be reached or do not speak SSH', () => {
    const cases: [string, () => Promise<Record<string, string>>, RegExp][] = [
      [
        'a closed port',
        async () => ({ host: `root@127.0.0.1:${await freePort()}` }),
        /Could not connect to root@127\.0\.0\.1:\d+ after 3 attempts: connect ECONNREFUSED/
      ],
      [
        'a silent TCP listener',
        async () => ({ host: `root@127.0.0.1:${await listen()}`, 'connect-timeout': '1s' }),
        /Could not connect to root@127\.0\.0\.1:\d+ after 3 attempts: Timed out while waiting for handshake/
      ],
      [
        'an HTTP server',
        async () => ({
          host: `root@127.0.0.1:${await listen('HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n')}`,
          'connect-timeout': '1s'
        }),
        /Could not connect to root@127\.0\.0\.1:\d+ after 3 attempts/
      ],
      [
        'an unreachable proxy-host',
        async () => ({ 'proxy-host': `root@127.0.0.1:${await freePort()}` }),
        /Could not connect to the jump host root@127\.0\.0\.1:\d+ \(proxy-host\) after 3 attempts/
      ],
      [
        'a proxy-host that is not SSH',
        async () => ({ 'proxy-host': `root@127.0.0.1:${await listen('220 smtp ready\r\n')}`, 'connect-timeout': '1s' }),
        /Could not connect to the jump host root@127\.0\.0\.1:\d+ \(proxy-host\)/
      ]
    ]
    it.concurrent.each(cases)(
      '%s',
      async (name, inputs, error) => {
        await ready()
        const c: Case = {
          name,
          action: 'ssh-surgical-deploy',
          inputs: { 'known-hosts': '', 'insecure-skip-host-key-check': 'true', ...(await inputs()) },
          error
        }
        const { run, changed } = await runCase(c)
        expectRefusal(c, run, changed)
      },
      timeout
    )
  })

  afterAll(() => {
    // No case ran the command substitutions or backticks it carried, anywhere, or sent anything.
    expect(existsSync(pwned)).toBe(false)
    expect(github.requestsTo('POST', /dispatches$/)).toHaveLength(0)
  })
})
