export * from './git-command-manager'
export * from './publish'
export * from './pull-request'
