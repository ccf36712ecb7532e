import js from '@eslint/js';
import tseslint from 'typescript-eslint';

/**
 * Domain folders hold plain TypeScript: no framework, driver or ORM. Adapters (controllers,
 * PostgreSQL repositories) live in src/api, src/health, src/storage; an adapter file in a domain
 * folder is exempted below by name, with the reason.
 */
const DOMAIN_FILES = [
  'src/flow/**/*.ts',
  'src/policy/**/*.ts',
  'src/aggregator/**/*.ts',
  'src/suggest/**/*.ts',
  'src/synthetic/**/*.ts',
  'src/alerts/**/*.ts',
];
const DOMAIN_ADAPTERS = [
  // src/alerts: the HTTP and storage edges of alerting, when it has them.
  'src/alerts/**/*.controller.ts',
  'src/alerts/**/*.module.ts',
  'src/alerts/**/*.repository.ts',
  'src/alerts/**/*.store.ts',
];

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', '.dropscope/**', 'coverage/**', 'scripts/**', 'tmp/**', '*.config.js'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  {
    files: DOMAIN_FILES,
    ignores: DOMAIN_ADAPTERS,
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: ['@nestjs/*', 'pg', 'pg-*', 'typeorm', 'typeorm/*'],
              message:
                'Domain code is plain TypeScript: depend on a port (an interface) and implement it in src/storage or src/api.',
            },
          ],
        },
      ],
    },
  },
  {
    files: ['test/**/*.mjs'],
    languageOptions: { globals: { process: 'readonly', globalThis: 'readonly' } },
  },
  {
    files: ['test/**/*.ts', '**/*.spec.ts', '**/*.e2e-spec.ts'],
    rules: { '@typescript-eslint/no-non-null-assertion': 'off' },
  },
);
