export * from './client'
export * from './errors'
export * from './dispatch'
export * from './workflow-runs'
