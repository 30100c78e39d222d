/**
 * The package's public entry as a browser bundle: dist/index.js (compiled exactly as
 * `npm run build` compiles it) bundled by esbuild for the browser with no Node built-in, and the
 * example page examples/browser/ training `new AdamW({ predictionSteps: 1 })` in headless
 * Chromium on the webgl, wasm and cpu backends.
 */
import { execFile } from 'node:child_process';
import { copyFileSync, mkdirSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { build } from 'esbuild';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium } from './chromium.js';
import { serveDirectory, type StaticServer } from './static-server.js';

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const work = join(repo, '.cache', 'browser-bundle-test');
const dist = join(work, 'dist');
const site = join(work, 'site');

const webgpuInstalled = (() => {
  try {
    createRequire(import.meta.url).resolve('@tensorflow/tfjs-backend-webgpu');
    return true;
  } catch {
    return false;
  }
})();

describe('the public entry in a browser bundle', () => {
  let server: StaticServer;
  let browser: Browser;

  beforeAll(async () => {
    rmSync(work, { recursive: true, force: true });
    await promisify(execFile)(
      process.execPath,
      [
        join(repo, 'node_modules', 'typescript', 'bin', 'tsc'),
        '-p',
        'tsconfig.build.json',
        '--outDir',
        dist,
        '--declaration',
        'false',
        '--declarationMap',
        'false',
        '--sourceMap',
        'false',
      ],
      { cwd: repo },
    );
    mkdirSync(site, { recursive: true });
  }, 240_000);

  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  it('bundles dist/index.js for the browser with no Node built-in', async () => {
    const result = await build({
      entryPoints: [join(dist, 'index.js')],
      bundle: true,
      platform: 'browser',
      format: 'esm',
      outfile: join(work, 'wp.js'),
      metafile: true,
      logLevel: 'silent',
    });
    expect(result.errors).toEqual([]);
    const inputs = Object.keys(result.metafile.inputs);
    expect(inputs.filter((path) => path.startsWith('node:'))).toEqual([]);
    expect(inputs.some((path) => path.endsWith(join('optimizers', 'adamw.js')))).toBe(true);
  });

  describe('examples/browser trains AdamW with predictionSteps: 1', () => {
    beforeAll(async () => {
      await build({
        entryPoints: [join(repo, 'examples', 'browser', 'main.ts')],
        bundle: true,
        platform: 'browser',
        format: 'esm',
        outfile: join(site, 'main.js'),
        alias: { 'weight-prediction': join(dist, 'index.js') },
        logLevel: 'silent',
      });
      copyFileSync(join(repo, 'examples', 'browser', 'index.html'), join(site, 'index.html'));
      const wasmDist = join(
        dirname(
          createRequire(import.meta.url).resolve('@tensorflow/tfjs-backend-wasm/package.json'),
        ),
        'dist',
      );
      for (const name of [
        'tfjs-backend-wasm.wasm',
        'tfjs-backend-wasm-simd.wasm',
        'tfjs-backend-wasm-threaded-simd.wasm',
      ]) {
        copyFileSync(join(wasmDist, name), join(site, name));
      }
      server = await serveDirectory(site);
      browser = await launchChromium();
    }, 120_000);

    it.each(['webgl', 'wasm', 'cpu'])('on %s', async (backend) => {
      const page = await browser.newPage();
      await page.goto(`${server.url}?backend=${backend}`);
      await expect
        .poll(() => page.getAttribute('#result', 'data-state'), { timeout: 60_000, interval: 250 })
        .not.toBe('running');
      const text = (await page.textContent('#result')) ?? '';
      expect(await page.getAttribute('#result', 'data-state'), text).toBe('done');
      const summary = JSON.parse(text) as {
        backend: string;
        description: string;
        firstLoss: number;
        lastLoss: number;
      };
      expect(summary.backend).toBe(backend);
      // On wasm the Adam steps ran in the package's SIMD loops, on the backend's own heap.
      if (backend === 'wasm')
        expect(summary.description).toContain('Adam steps in WebAssembly SIMD');
      expect(Number.isFinite(summary.lastLoss)).toBe(true);
      // From w = 0 the loss starts near Σw²+0.25 ≈ 3.4 and the fit is exact: 200 steps bring it
      // down by orders of magnitude.
      expect(summary.lastLoss).toBeLessThan(summary.firstLoss / 100);
      await page.close();
    });

    it.skipIf(!webgpuInstalled)(
      'on webgpu (skipped where @tensorflow/tfjs-backend-webgpu is not installed: it is not a dependency of this package)',
      () => {
        throw new Error(
          '@tensorflow/tfjs-backend-webgpu is installed: import it in examples/browser/main.ts and check navigator.gpu, then test it here.',
        );
      },
    );
  });
});
