// The bench: real local parts (Docker, images, registry, sshd "VMs", git remotes) and their cleanup.
export * from './exec'
export * from './net'
export * from './probe'
export * from './processes'
export * from './docker'
export * from './debian-image'
export * from './proxy'
export * from './registry'
export * from './ssh-host'
export * from './git-remote'
// Stand-ins for GitHub: the runner-faithful action launcher and the fake API.
export * from './run-action'
export * from './fake-github'
