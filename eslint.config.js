import js from '@eslint/js'
import globals from 'globals'
import tseslint from 'typescript-eslint'

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', '**/node_modules/**', 'coverage/**', '.sandbox/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { ...globals.node } },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-console': 'off'
    }
  },
  {
    // Text reaches the job log only through packages/core/src/log.ts, which masks secrets and
    // keeps outside text from acting as a workflow command; nothing else prints by itself.
    files: ['packages/core/src/**/*.ts', 'actions/*/src/**/*.ts'],
    ignores: ['packages/core/src/log.ts'],
    rules: {
      'no-console': 'error',
      'no-restricted-syntax': [
        'error',
        {
          selector:
            "ImportDeclaration[source.value='@actions/core'] ImportSpecifier[imported.name=/^(info|warning|error|notice|debug|setFailed|startGroup|group|setSecret)$/]",
          message: 'Print through log / maskSecret from packages/core/src/log.ts.'
        },
        {
          selector:
            "MemberExpression[object.name='core'][property.name=/^(info|warning|error|notice|debug|setFailed|startGroup|group|setSecret)$/]",
          message:
            'Print through log / maskSecret from packages/core/src/log.ts: it masks secrets and neutralises workflow commands.'
        },
        {
          selector: "MemberExpression[object.object.name='process'][object.property.name=/^(stdout|stderr)$/]",
          message: 'Print through log from packages/core/src/log.ts.'
        }
      ]
    }
  },
  {
    files: ['test/**/*.ts'],
    languageOptions: { globals: { ...globals.jest } }
  },
  {
    files: ['**/*.cjs'],
    languageOptions: { sourceType: 'commonjs' }
  }
)
