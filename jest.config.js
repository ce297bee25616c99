// Packages whose ES modules import JSON without an import attribute (see the transform).
const actionsWithJsonImports = '(languageservice|workflow-parser)'

// Jest runs TypeScript as ES modules (the @actions packages are ESM-only), via ts-jest.
const esmTypeScript = {
  extensionsToTreatAsEsm: ['.ts'],
  transform: {
    '^.+\\.ts$': ['ts-jest', { useESM: true, tsconfig: 'tsconfig.json' }],
    [`/@actions/${actionsWithJsonImports}/dist/.+\\.js$`]: '<rootDir>/test/helpers/json-import-attributes.cjs'
  },
  transformIgnorePatterns: [`/node_modules/(?!(.*/)?@actions/${actionsWithJsonImports}/)`],
  moduleNameMapper: {
    '^@gitops-lite/(core|sandbox|demo)$': '<rootDir>/packages/$1/src/index.ts'
  },
  testEnvironment: 'node'
}

/** @type {import('jest').Config} */
export default {
  reporters: ['default', '<rootDir>/test/helpers/summary-reporter.cjs'],
  projects: [
    { ...esmTypeScript, displayName: 'unit', testMatch: ['<rootDir>/test/unit/**/*.test.ts'] },
    {
      ...esmTypeScript,
      displayName: 'integration',
      testMatch: ['<rootDir>/test/integration/**/*.test.ts'],
      slowTestThreshold: 60
    },
    { ...esmTypeScript, displayName: 'e2e', testMatch: ['<rootDir>/test/e2e/**/*.test.ts'], slowTestThreshold: 300 }
  ]
}
