/**
 * The playground's build: `npm run playground` builds it into playground/dist and serves it.
 * The page imports the package's public entry ('weight-prediction', and '/models' for the MNIST
 * model) from this repository's source; the TF.js wasm binaries and the MNIST subset are emitted
 * next to the page.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { defineConfig, type Plugin } from 'vite';
import { makeMnistSubsetFile } from './mnist-subset.js';

const here = dirname(fileURLToPath(import.meta.url));
const repo = resolve(here, '..');

/** The wasm binaries of @tensorflow/tfjs-backend-wasm and the MNIST subset, as build assets. */
function playgroundAssets(): Plugin {
  const wasmDir = dirname(
    createRequire(import.meta.url).resolve('@tensorflow/tfjs-backend-wasm/package.json'),
  );
  const wasmFiles = [
    'tfjs-backend-wasm.wasm',
    'tfjs-backend-wasm-simd.wasm',
    'tfjs-backend-wasm-threaded-simd.wasm',
  ];
  const files = (): Map<string, () => Uint8Array> =>
    new Map<string, () => Uint8Array>([
      ...wasmFiles.map((name): [string, () => Uint8Array] => [
        `wasm/${name}`,
        () => readFileSync(join(wasmDir, 'dist', name)),
      ]),
      ['data/mnist-subset.bin', () => makeMnistSubsetFile()],
    ]);
  return {
    name: 'playground-assets',
    // The dev server (`npx vite --config playground/vite.config.ts`) serves them too.
    configureServer(server) {
      const assets = files();
      server.middlewares.use((request, response, next) => {
        const path = new URL(request.url ?? '/', 'http://x').pathname.replace(/^\//, '');
        const make = assets.get(path);
        if (!make) return next();
        response.setHeader(
          'content-type',
          path.endsWith('.wasm') ? 'application/wasm' : 'application/octet-stream',
        );
        response.end(make());
      });
    },
    generateBundle() {
      for (const [fileName, make] of files()) {
        this.emitFile({ type: 'asset', fileName, source: make() });
      }
    },
  };
}

export default defineConfig({
  root: here,
  base: './',
  resolve: {
    alias: [
      { find: /^weight-prediction$/, replacement: join(repo, 'src', 'index.ts') },
      { find: /^weight-prediction\/models$/, replacement: join(repo, 'src', 'models', 'index.ts') },
    ],
  },
  plugins: [playgroundAssets()],
  worker: { format: 'es' },
  build: { outDir: 'dist', emptyOutDir: true, target: 'es2022', chunkSizeWarningLimit: 4000 },
  preview: { host: '127.0.0.1' },
});
