// Lint rules the CI enforces (npm run lint). typescript-eslint's strict set everywhere; the type-aware
// rules only over lib/, where they catch real mistakes (floating promises, unsafe any, needless
// conditions) in code that ships, and where a slower lint is worth it.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  {
    ignores: ['node_modules/', 'build/', 'dist/', 'coverage/', 'test-vectors/wycheproof/', '**/*.d.ts'],
  },
  js.configs.recommended,
  ...tseslint.configs.strict,
  {
    languageOptions: {
      globals: {
        process: 'readonly',
        Buffer: 'readonly',
        console: 'readonly',
        URL: 'readonly',
        setTimeout: 'readonly',
        clearTimeout: 'readonly',
        setImmediate: 'readonly',
        setInterval: 'readonly',
        clearInterval: 'readonly',
        queueMicrotask: 'readonly',
        structuredClone: 'readonly',
        TextEncoder: 'readonly',
        TextDecoder: 'readonly',
        performance: 'readonly',
        AbortController: 'readonly',
        globalThis: 'readonly',
        crypto: 'readonly',
      },
    },
  },
  {
    rules: {
      // tsconfig has noUncheckedIndexedAccess: every buf[i] is `number | undefined`, and `buf[i]!` after
      // a bounds check is this codebase's deliberate idiom. The rule would push toward `?? 0`, which
      // hides a real out-of-range read instead of failing loudly in tests.
      '@typescript-eslint/no-non-null-assertion': 'off',
      // Strict JSON and token readers match control characters on purpose.
      'no-control-regex': 'off',
      // A catch that ignores the error is how a probe says "any failure is fine here".
      'no-empty': ['error', { allowEmptyCatch: true }],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' }],
    },
  },
  {
    files: ['lib/**/*.ts'],
    extends: [...tseslint.configs.strictTypeCheckedOnly],
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      // Byte counts and limits in messages are numbers; only objects and unions are a mistake there.
      '@typescript-eslint/restrict-template-expressions': ['error', { allowNumber: true }],
      // Every public entry point and every value from the addon is re-checked at run time (typeof x !==
      // 'object', result !== true), because JavaScript callers, JSON and a broken binding ignore the
      // declared types. These two rules call exactly those checks unnecessary, so they are off.
      '@typescript-eslint/no-unnecessary-condition': 'off',
      '@typescript-eslint/no-unnecessary-boolean-literal-compare': 'off',
      // `(m) => io.stderr(...)` as a listener is idiomatic; the rule's value is in statement position.
      '@typescript-eslint/no-confusing-void-expression': ['error', { ignoreArrowShorthand: true }],
    },
  },
  {
    files: ['test/**/*.ts', 'bench/**/*.ts', 'scripts/**/*.ts'],
    rules: {
      // Tests build hostile inputs: they parse arbitrary JSON and delete fields by name.
      '@typescript-eslint/no-explicit-any': 'off',
      '@typescript-eslint/no-dynamic-delete': 'off',
    },
  },
);
