// Lint: typescript-eslint's recommended rules, plus the one architectural rule that must
// fail the build: algorithms and the mesh pipeline never touch the real world (clock,
// timers, Math.random) nor import the simulator, the live proxy or anything above them.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

const worldAgnostic = {
  // The example plugin too: the rule a plugin of yours should keep (docs/writing-a-policy.md).
  files: ['src/algorithms/**/*.ts', 'src/mesh/**/*.ts', 'examples/plugin/**/*.mjs'],
  rules: {
    'no-restricted-properties': [
      'error',
      { object: 'Date', property: 'now', message: 'Algorithms read time only through the Clock port.' },
      { object: 'performance', property: 'now', message: 'Algorithms read time only through the Clock port.' },
      { object: 'Math', property: 'random', message: 'Algorithms draw randomness only from their Rng port.' },
    ],
    'no-restricted-globals': [
      'error',
      ...['setTimeout', 'setInterval', 'setImmediate', 'clearTimeout', 'clearInterval', 'clearImmediate', 'queueMicrotask'].map((name) => ({
        name,
        message: 'Algorithms schedule only through the Timers port.',
      })),
      { name: 'performance', message: 'Algorithms read time only through the Clock port.' },
      { name: 'process', message: 'Algorithms are world-agnostic: no process access.' },
    ],
    'no-restricted-syntax': ['error', { selector: "NewExpression[callee.name='Date']", message: 'Algorithms read time only through the Clock port.' }],
    'no-restricted-imports': [
      'error',
      {
        patterns: [
          { group: ['node:*', 'fs', 'net', 'http', 'timers', 'perf_hooks', 'crypto'], message: 'Algorithms are world-agnostic: no Node built-ins.' },
          {
            group: ['**/sim/**', '**/live/**', '**/runner/**', '**/report/**', '**/cli/**', '**/scenario/**'],
            message: 'Algorithms and the mesh pipeline must not import the layers above them.',
          },
        ],
      },
    ],
  },
};

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'reports/**', 'coverage/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { parserOptions: { projectService: false } },
    rules: {
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', destructuredArrayIgnorePattern: '^_' }],
      'no-constant-condition': ['error', { checkLoops: false }],
    },
  },
  worldAgnostic,
);
