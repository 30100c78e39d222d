/**
 * The playground (playground/) in headless Chromium: built with Vite, served on 127.0.0.1, a race
 * started from the page; its numbers are checked against the same race run in Node
 * (playground/reference.ts) on the same backend.
 */
import { execFile } from 'node:child_process';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium } from './chromium.js';
import { serveDirectory, type StaticServer } from './static-server.js';

const run = promisify(execFile);

// What the callbacks below see of the page's elements (the test compiles without the DOM lib).
interface TableRow {
  cells: ArrayLike<{ dataset: Record<string, string | undefined> } | undefined>;
}
interface Canvas {
  width: number;
  height: number;
  getContext(kind: '2d'): {
    getImageData(x: number, y: number, w: number, h: number): { data: Uint8ClampedArray };
  };
}
const repo = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
/** The test's own build of the page (playground/dist stays the user's). */
const site = join(repo, '.cache', 'playground-test');
const RUN_COLORS = ['#e6194b', '#3cb44b', '#4363d8'];

interface ReferenceRecord {
  run: number;
  step: number;
  loss: number;
  theta?: [number, number];
  accuracy?: number;
}

/** The race of `query` run in Node by playground/reference.ts. */
async function nodeReference(query: string): Promise<{
  backend: string;
  records: ReferenceRecord[];
  tensorsAfterRound: number[];
  tensorsAfterDispose: number;
}> {
  const tsx = join(repo, 'node_modules', 'tsx', 'dist', 'cli.mjs');
  const { stdout } = await run(
    process.execPath,
    [tsx, '--tsconfig', 'playground/tsconfig.json', 'playground/reference.ts', query],
    { cwd: repo, maxBuffer: 64 << 20 },
  );
  return JSON.parse(stdout);
}

/** Each run's last record, and its last evaluated accuracy. */
function lastByRun(records: ReferenceRecord[]): Map<number, ReferenceRecord> {
  const last = new Map<number, ReferenceRecord>();
  for (const r of records) {
    const accuracy = r.accuracy ?? last.get(r.run)?.accuracy;
    last.set(r.run, { ...r, ...(accuracy === undefined ? {} : { accuracy }) });
  }
  return last;
}

/** The page's results table: per run, each cell's exact value (data-value). */
async function pageResults(page: Page): Promise<{ step: number; loss: number; detail: string }[]> {
  return page.$$eval('#results tbody tr', (rows) =>
    rows.map((row) => {
      const value = (i: number): string =>
        (row as unknown as TableRow).cells[i]?.dataset['value'] ?? '';
      return { step: Number(value(2)), loss: Number(value(3)), detail: value(4) };
    }),
  );
}

/** Pixels of `canvas` that are exactly `color` (the runs' lines and markers). */
async function pixelsOfColor(page: Page, canvas: string, color: string): Promise<number> {
  return page.$eval(
    canvas,
    (element, hex) => {
      const c = element as unknown as Canvas;
      const data = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
      const [r, g, b] = [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16));
      let count = 0;
      for (let i = 0; i < data.length; i += 4) {
        if (data[i] === r && data[i + 1] === g && data[i + 2] === b) count++;
      }
      return count;
    },
    color,
  );
}

async function raceToTheEnd(page: Page, url: string): Promise<void> {
  await page.goto(url);
  await page.click('#start');
  await expect
    .poll(() => page.getAttribute('#status', 'data-state'), { timeout: 120_000, interval: 250 })
    .toMatch(/^(done|error)$/);
  const status = await page.textContent('#status');
  expect(await page.getAttribute('#status', 'data-state'), status ?? '').toBe('done');
}

describe('the playground in headless Chromium', () => {
  let server: StaticServer;
  let browser: Browser;

  beforeAll(async () => {
    await run(
      process.execPath,
      [
        join(repo, 'node_modules', 'vite', 'bin', 'vite.js'),
        'build',
        '--config',
        'playground/vite.config.ts',
        '--outDir',
        site,
        '--emptyOutDir',
        '--logLevel',
        'warn',
      ],
      { cwd: repo, maxBuffer: 64 << 20 },
    );
    server = await serveDirectory(site);
    browser = await launchChromium();
  }, 180_000);

  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  it('races on cpu: trajectories and curves drawn, numbers equal to Node’s bit for bit, no leak', async () => {
    const query =
      '?task=beale&backend=cpu&seed=3&steps=40&run=adamw,s=1,lr=0.05&run=adamw,s=0,lr=0.05&run=sgd,s=1,lr=0.01';
    const page = await browser.newPage();
    const reference = nodeReference(query);
    await raceToTheEnd(page, server.url + query);

    expect(await page.getAttribute('#backend-in-use', 'data-backend')).toBe('cpu');
    // The URL carries the race, so the link reproduces it.
    expect(new URL(page.url()).search).toContain('run=adamw,s=1,lr=0.05,wd=0');
    for (const color of RUN_COLORS) {
      expect(await pixelsOfColor(page, '#map', color), `${color} on the map`).toBeGreaterThan(30);
      expect(await pixelsOfColor(page, '#loss', color), `${color} loss curve`).toBeGreaterThan(30);
    }

    const { backend, records, tensorsAfterRound, tensorsAfterDispose } = await reference;
    expect(backend).toBe('cpu');
    const expected = lastByRun(records);
    const shown = await pageResults(page);
    expect(shown).toHaveLength(3);
    shown.forEach((row, i) => {
      const node = expected.get(i) as ReferenceRecord;
      expect(row.step).toBe(40);
      expect(row.loss).toBe(node.loss);
      expect(row.detail).toBe((node.theta as number[]).join(' '));
    });
    // Leak check of the same training code: the tensor count is flat from round to round.
    expect(new Set(tensorsAfterRound).size).toBe(1);
    expect(tensorsAfterDispose).toBe(0);
    await page.close();
  });

  it('trains the MNIST subset on wasm: curves drawn, numbers equal to Node’s to float32 rounding', async () => {
    const query =
      '?task=mnist&backend=wasm&seed=5&steps=40&batch=64&run=adamw,s=1,lr=0.002&run=adamw,s=0,lr=0.002';
    const page = await browser.newPage();
    const reference = nodeReference(query);
    await raceToTheEnd(page, server.url + query);

    expect(await page.getAttribute('#backend-in-use', 'data-backend')).toBe('wasm');
    for (const color of RUN_COLORS.slice(0, 2)) {
      expect(await pixelsOfColor(page, '#loss', color), `${color} loss curve`).toBeGreaterThan(30);
      expect(await pixelsOfColor(page, '#accuracy', color), `${color} accuracy`).toBeGreaterThan(
        30,
      );
    }
    const timeCells = await page.$$eval('#results tbody tr', (rows) =>
      rows.map((r) => Number((r as unknown as TableRow).cells[5]?.dataset['value'])),
    );
    timeCells.forEach((ms) => expect(ms).toBeGreaterThan(0));
    expect(
      await page.getAttribute('#results tbody tr:nth-child(1) td:nth-child(7)', 'data-value'),
    ).toMatch(/^\d/);

    const { backend, records, tensorsAfterRound } = await reference;
    expect(backend).toBe('wasm');
    expect(new Set(tensorsAfterRound).size).toBe(1);
    const expected = lastByRun(records);
    const shown = await pageResults(page);
    shown.forEach((row, i) => {
      const node = expected.get(i) as ReferenceRecord;
      expect(row.step).toBe(40);
      // Measured here: equal bit for bit (Chromium and Node both run TF.js's SIMD wasm binary,
      // without the native addon). The tolerance, ~80 float32 ulps, leaves room for another
      // build of the binary (threads, no SIMD) on one side.
      expect(Math.abs(row.loss - node.loss)).toBeLessThanOrEqual(1e-5 * Math.abs(node.loss));
      // Accuracy on 500 test images: a prediction may flip on a near tie, no more than one.
      expect(Math.abs(Number(row.detail) - (node.accuracy as number))).toBeLessThanOrEqual(1 / 500);
    });
    await page.close();
  });

  it('says which setting is wrong, for a bad link and for a bad form entry', async () => {
    const page = await browser.newPage();
    await page.goto(`${server.url}?task=beale&run=adamw,lr=-0.1&run=lamb,s=1&steps=0`);
    const errors = page.locator('#errors');
    await expect.poll(() => errors.isVisible()).toBe(true);
    const text = (await errors.textContent()) ?? '';
    expect(text).toContain(
      "Run 1 (adamw,lr=-0.1): lr (learning rate) must be a positive number, got '-0.1'",
    );
    expect(text).toContain(
      "Run 2 (lamb,s=1): unknown optimizer 'lamb'; choose one of adamw, adam, sgd",
    );
    expect(text).toContain("steps must be an integer from 1 to 100000, got '0'");
    expect(await page.getAttribute('#status', 'data-state')).toBe('error');

    // The form goes through the same checks: a negative learning rate typed in.
    await page.goto(`${server.url}?task=beale&backend=cpu&run=adam,lr=0.05`);
    await expect.poll(() => errors.isVisible()).toBe(false);
    await page.fill('#runs tbody tr:nth-child(1) input[name="lr"]', '-2');
    await page.click('#start');
    await expect
      .poll(() => errors.textContent())
      .toContain("lr (learning rate) must be a positive number, got '-2'");
    expect(await page.getAttribute('#status', 'data-state')).toBe('error');
    await page.close();
  });

  it('says when a run diverges, and races the others to the end', async () => {
    const page = await browser.newPage();
    await raceToTheEnd(
      page,
      `${server.url}?task=rosenbrock&backend=cpu&steps=30&run=sgd,lr=1&run=adamw,lr=0.05`,
    );
    const [diverged, healthy] = await pageResults(page);
    expect(await page.textContent('#results tbody tr:nth-child(1) td:nth-child(4)')).toMatch(
      /^diverged at step \d+: the gradient is not finite; lower lr \(now 1\)\.$/,
    );
    expect(diverged?.step).toBeLessThan(30);
    expect(healthy?.step).toBe(30);
    expect(Number.isFinite(healthy?.loss)).toBe(true);
    await page.close();
  });

  it('falls back to the next backend when one fails to initialise, and says so', async () => {
    const page = await browser.newPage();
    // The wasm binaries cannot be fetched: the wasm backend fails; the next one (webgl) runs.
    await page.route('**/*.wasm', (route) => route.abort());
    await raceToTheEnd(page, `${server.url}?task=saddle&backend=wasm&steps=5&run=adamw,s=1`);
    const notices = (await page.textContent('#notices')) ?? '';
    expect(notices).toContain('Backend wasm failed to initialise');
    expect(notices).toContain('falling back to webgl');
    expect(await page.getAttribute('#backend-in-use', 'data-backend')).toBe('webgl');
    const [row] = await pageResults(page);
    expect(row?.step).toBe(5);
    expect(Number.isFinite(row?.loss)).toBe(true);
    await page.close();
  });
});
