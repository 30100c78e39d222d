import js from '@eslint/js';
import { createNodeResolver, importX } from 'eslint-plugin-import-x';
import tseslint from 'typescript-eslint';

/**
 * The module graph, one way (docs/ARCHITECTURE.md draws it). Each zone: files in `target` may not
 * import from `from`. The browser-safe core is every module a bundle of src/index.ts reaches.
 */
// Globs throughout (the rule wants `from` all globs or none).
const NODE_ONLY = [
  'src/{node,files,lock}.ts',
  'src/kernels/{native,node}.ts',
  'src/{data,training,experiments,report,cli}/**',
];
const CORE = [
  'src/{index,accelerator,errors}.ts',
  'src/{optimizers,rules,prediction,schedules,models}/**',
  'src/kernels/!(native|node).ts',
  'src/kernels/fused/**',
];
const zone = (target, from, message) => ({ target, from, message });
const LAYERS = [
  zone(
    CORE,
    NODE_ONLY,
    'the core must bundle for a browser: reach Node-only code from a Node entry',
  ),
  zone(
    'src/rules',
    ['src/!(rules)/**', 'src/*.ts'],
    'a rule is pure math: TF.js ops and ./types only',
  ),
  zone(
    'src/prediction',
    ['src/{optimizers,kernels,models}/**'],
    'prediction owns the step mechanics; optimizers pair rules with kernels, not prediction',
  ),
  zone(
    'src/schedules',
    ['src/!(schedules|errors.ts)/**', 'src/!(errors).ts'],
    'schedules are pure functions of the step',
  ),
  zone(
    'src/kernels',
    ['src/{optimizers,models}/**', 'src/prediction/*.ts'],
    'kernels implement ops and loop contracts; they do not know optimizers or models',
  ),
  zone('src/models', ['src/{optimizers,prediction,rules}/**'], 'models know no optimizer'),
  zone('src/optimizers', ['src/models/**'], 'optimizers know no model'),
  zone(
    'src/data',
    ['src/{optimizers,models,training,experiments,report,cli}/**'],
    'data loads datasets only',
  ),
  zone(
    'src/training',
    ['src/{experiments,report,cli}/**'],
    'training runs one run; experiments and the CLI sit above it',
  ),
  zone('src/report', ['src/{experiments,cli}/**'], 'the report reads run folders only'),
  zone('src/experiments', ['src/cli/**'], 'the CLI sits on top'),
];

export default tseslint.config(
  { ignores: ['**/dist/', '.cache/', 'node_modules/', 'coverage/', 'results/', 'bench/results/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { process: 'readonly', console: 'readonly' } },
    rules: {
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', ignoreRestSiblings: true },
      ],
      eqeqeq: ['error', 'always'],
    },
  },
  {
    files: ['src/**/*.ts'],
    plugins: { 'import-x': importX },
    settings: {
      // Sources import './x.js' for './x.ts' (NodeNext); resolve them so every edge is checked.
      'import-x/resolver-next': [
        createNodeResolver({
          extensions: ['.ts', '.js'],
          extensionAlias: { '.js': ['.ts', '.js'] },
        }),
      ],
    },
    rules: {
      'import-x/no-restricted-paths': ['error', { zones: LAYERS }],
      'import-x/no-unresolved': ['error', { ignore: ['^@tensorflow/tfjs-node$'] }],
    },
  },
  {
    files: CORE,
    plugins: { 'import-x': importX },
    rules: { 'import-x/no-nodejs-modules': 'error' },
  },
);
