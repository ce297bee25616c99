export * from './server'
export * from './responses'
export * from './run-name'
