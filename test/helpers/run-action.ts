// Tests run bundles through the same launcher the sandbox command uses.
export * from '../../packages/sandbox/src/run-action'
