export * from './host-spec'
export * from './known-hosts'
export * from './client'
export * from './private-key'
