import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

/** The real CLI, as a user runs it (TypeScript sources through tsx); `preload` adds an --import. */
function cli(args: string[], options: { env?: NodeJS.ProcessEnv; preload?: string } = {}) {
  const result = spawnSync(
    process.execPath,
    [
      '--import',
      'tsx',
      ...(options.preload ? ['--import', options.preload] : []),
      'src/cli/main.ts',
      ...args,
    ],
    { encoding: 'utf8', timeout: 120_000, env: { ...process.env, ...options.env } },
  );
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

const root = mkdtempSync(path.join(tmpdir(), 'wp-hardening-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** Lines of stderr that are not progress output. */
const messageLines = (stderr: string) =>
  stderr.split('\n').filter((l) => l.startsWith('weight-prediction:'));
const STACK = /\n\s+at /;

describe('filesystem and parse errors on a user path: one line naming the path', () => {
  it('compare --out <an existing file> is refused without touching the file', () => {
    const file = path.join(root, 'a-file');
    writeFileSync(file, 'keep me');
    const run = cli(['compare', '--task', 'mnist-tiny', '--seeds', '1', '--out', file]);
    expect(run.code).toBe(2);
    expect(messageLines(run.stderr)).toEqual([
      `weight-prediction: --out ${JSON.stringify(file)} is a file, not a folder: pass a folder path (it is created if missing)`,
    ]);
    expect(run.stderr).not.toMatch(STACK);
    expect(readFileSync(file, 'utf8')).toBe('keep me');
  });

  it('compare --out under /sys (not writable) names the folder', () => {
    const run = cli(['compare', '--task', 'mnist-tiny', '--seeds', '1', '--out', '/sys/wp-out']);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(
      /--out "\/sys\/wp-out" is not writable .*pass a folder you can write to/,
    );
    expect(run.stderr).not.toMatch(STACK);
  });

  it('a truncated sweep.json with --resume names the file and the fix, and is left alone', () => {
    const out = path.join(root, 'truncated-sweep');
    mkdirSync(out);
    const sweep = path.join(out, 'sweep.json');
    writeFileSync(sweep, '{"command": "weight-prediction compare", "ru');
    const run = cli(['compare', '--task', 'mnist-tiny', '--seeds', '1', '--out', out, '--resume']);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain(`${sweep} is not readable JSON`);
    expect(run.stderr).toMatch(/delete it and rerun compare/);
    expect(run.stderr).not.toMatch(STACK);
    expect(readFileSync(sweep, 'utf8')).toBe('{"command": "weight-prediction compare", "ru');
  });

  it.each([
    ['missing', undefined, /cannot read it as JSON \(ENOENT\)/],
    ['not JSON', '{', /cannot read it as JSON/],
    ['not a run configuration', '{"task": 1}', /not a resolved run configuration/],
  ])('--run-config %s', (name, content, message) => {
    const file = path.join(root, `run-config-${name.replace(/ /g, '-')}.json`);
    if (content !== undefined) writeFileSync(file, content);
    const run = cli(['train', '--run-config', file, '--out', path.join(root, 'rc-out')]);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain(`--run-config ${file}`);
    expect(run.stderr).toMatch(message);
    expect(run.stderr).not.toMatch(STACK);
  });

  it('a checkpoint with a valid checksum but a malformed header is refused by name', () => {
    const out = path.join(root, 'bad-header');
    mkdirSync(out);
    const header = Buffer.from(
      JSON.stringify({ configHash: 'x', step: 1, epoch: 1, batchInEpoch: 0, tensors: 5 }),
    );
    const prefix = Buffer.alloc(16);
    prefix.write('WPCKPT\n\0', 0, 'latin1');
    prefix.writeUInt32LE(1, 8);
    prefix.writeUInt32LE(header.byteLength, 12);
    const body = Buffer.concat([prefix, header]);
    const file = path.join(out, 'checkpoint.ckpt');
    const bytes = Buffer.concat([body, createHash('sha256').update(body).digest()]);
    writeFileSync(file, bytes);
    const run = cli(['train', '--task', 'mnist-tiny', '--out', out, '--resume', '--quiet']);
    expect(run.code).toBe(2);
    expect(messageLines(run.stderr)).toEqual([
      `weight-prediction: Checkpoint ${JSON.stringify(file)} is not usable: its header field "rng" is missing or malformed. Delete it to start the run afresh, or point to another output folder.`,
    ]);
    expect(run.stderr).not.toMatch(STACK);
    expect(readFileSync(file).equals(bytes)).toBe(true);
  });
});

describe('the last-resort handler', () => {
  const preload = path.resolve('test/cli/fixtures/stdout-fault.mjs');

  it('prints one line saying it is a bug, without the stack', () => {
    const run = cli(['tasks'], { preload });
    expect(run.code).toBe(70);
    expect(run.stderr.trim().split('\n')).toHaveLength(1);
    expect(run.stderr).toMatch(
      /^weight-prediction: unexpected error \(TypeError: injected stdout fault\); this is a bug, report it at .* rerun with --verbose/,
    );
    expect(run.stderr).not.toMatch(STACK);
  });

  it.each([
    ['--verbose', ['--verbose', 'tasks'], {}],
    ['WEIGHT_PREDICTION_DEBUG=1', ['tasks'], { WEIGHT_PREDICTION_DEBUG: '1' }],
  ])('keeps the stack with %s', (_name, args, env) => {
    const run = cli(args, { preload, env });
    expect(run.code).toBe(70);
    expect(run.stderr).toMatch(/this is a bug/);
    expect(run.stderr).toMatch(/TypeError: injected stdout fault\n\s+at /);
  });
});

describe('input that used to be ignored in silence', () => {
  it('an unknown key under data in a config is refused with the known ones', () => {
    const config = path.join(root, 'misspelt.json');
    writeFileSync(config, JSON.stringify({ data: { trainLimt: 100 } }));
    const out = path.join(root, 'misspelt-out');
    const run = cli(['train', '--task', 'mnist-tiny', '--config', config, '--out', out]);
    expect(run.code).toBe(2);
    expect(messageLines(run.stderr)).toEqual([
      'weight-prediction: Task mnist-tiny: unknown data setting "trainLimt" (data kind image); valid data settings are kind, dataset, trainLimit, testLimit, validationFraction, augment, normalize',
    ]);
    expect(existsSync(out)).toBe(false);
  });

  it('an unknown key under model is refused too, in compare as in train', () => {
    const config = path.join(root, 'misspelt-model.json');
    writeFileSync(config, JSON.stringify({ model: { hiddenUnit: [8] } }));
    const out = path.join(root, 'misspelt-model-out');
    const run = cli(['compare', '--task', 'mnist-tiny', '--config', config, '--out', out]);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(
      /unknown model setting "hiddenUnit" \(model kind mlp\); valid model settings are kind, hiddenUnits/,
    );
    expect(existsSync(out)).toBe(false);
  });

  it('--data-dir on a task that reads no data folder is refused', () => {
    const out = path.join(root, 'data-dir-out');
    const run = cli(['train', '--task', 'mnist-tiny', '--data-dir', root, '--out', out]);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(
      /Task mnist-tiny reads no data folder \(its mnist images come with the package\), so --data-dir .* would be ignored: drop --data-dir/,
    );
    expect(existsSync(out)).toBe(false);
  });

  it('a text corpus with invalid UTF-8 is refused with the file and byte offset', () => {
    const dir = path.join(root, 'latin1-corpus');
    mkdirSync(dir);
    writeFileSync(path.join(dir, 'train.txt'), Buffer.from('the caf\xe9 is open\n', 'latin1'));
    writeFileSync(path.join(dir, 'valid.txt'), 'the cat\n');
    writeFileSync(path.join(dir, 'test.txt'), 'the cat\n');
    const config = path.join(root, 'latin1.json');
    writeFileSync(config, JSON.stringify({ dataDir: dir, data: { corpus: 'text' } }));
    const out = path.join(root, 'latin1-out');
    const run = cli(['train', '--task', 'gutenberg-tiny', '--config', config, '--out', out]);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain(
      `train text file ${path.join(dir, 'train.txt')} is not valid UTF-8: byte 0xe9 at byte offset 7`,
    );
    expect(existsSync(out)).toBe(false);
  });
});

describe('the output-folder lock, in train and report', () => {
  /** A lock held by a live process: the test runner's parent. */
  function heldLock(dir: string): void {
    mkdirSync(dir, { recursive: true });
    writeFileSync(
      path.join(dir, '.weight-prediction.lock'),
      JSON.stringify({ pid: process.ppid, host: hostname(), command: 'holder', since: 'now' }),
    );
  }

  it('train refuses an --out held by another command', () => {
    const out = path.join(root, 'locked-train');
    heldLock(out);
    const run = cli(['train', '--task', 'mnist-tiny', '--out', out]);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain(
      `--out ${out} is in use by another weight-prediction command (pid ${process.ppid} on ${hostname()}, since now: holder)`,
    );
    expect(readdirSync(out)).toEqual(['.weight-prediction.lock']);
  });

  it('report refuses a runs folder held by another command', () => {
    const runs = path.join(root, 'locked-runs');
    heldLock(runs);
    const run = cli(['report', runs]);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain(
      `runs folder ${runs} is in use by another weight-prediction command`,
    );
  });
});
