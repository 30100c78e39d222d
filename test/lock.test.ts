import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { UserInputError } from '../src/errors.js';
import { LOCK_FILE, lockFolder } from '../src/lock.js';

const root = mkdtempSync(path.join(tmpdir(), 'wp-lock-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** The pid of a process that has exited (so no process runs under it, barring reuse). */
function deadPid(): number {
  const child = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], {
    encoding: 'utf8',
  });
  return Number(child.stdout);
}

function writeLock(dir: string, owner: object): string {
  mkdirSync(dir, { recursive: true });
  const file = path.join(dir, LOCK_FILE);
  writeFileSync(file, JSON.stringify(owner));
  return file;
}

describe('lockFolder', () => {
  it('writes pid, host and command, and release removes the lock and the folder it created', () => {
    const dir = path.join(root, 'fresh');
    const lock = lockFolder(dir, 'weight-prediction train', '--out');
    const owner = JSON.parse(readFileSync(lock.file, 'utf8')) as Record<string, unknown>;
    expect(owner).toMatchObject({
      pid: process.pid,
      host: hostname(),
      command: 'weight-prediction train',
    });
    lock.release();
    expect(existsSync(dir)).toBe(false);
  });

  it('keeps a folder it created once something was written into it', () => {
    const dir = path.join(root, 'written');
    const lock = lockFolder(dir, 'x');
    writeFileSync(path.join(dir, 'metrics.jsonl'), '');
    lock.release();
    expect(existsSync(path.join(dir, LOCK_FILE))).toBe(false);
    expect(existsSync(path.join(dir, 'metrics.jsonl'))).toBe(true);
  });

  it('refuses a folder held by a live process, naming it', () => {
    // The test runner's parent process is alive for the whole test.
    const dir = path.join(root, 'held');
    const file = writeLock(dir, {
      pid: process.ppid,
      host: hostname(),
      command: 'weight-prediction compare --out held',
      since: '2026-01-01T00:00:00.000Z',
    });
    const before = readFileSync(file, 'utf8');
    expect(() => lockFolder(dir, 'y', '--out')).toThrow(UserInputError);
    expect(() => lockFolder(dir, 'y', '--out')).toThrow(
      `--out ${dir} is in use by another weight-prediction command (pid ${process.ppid} on ${hostname()}, since 2026-01-01T00:00:00.000Z: weight-prediction compare --out held): wait for it to finish, or stop it; if it no longer runs, delete ${file}`,
    );
    expect(readFileSync(file, 'utf8')).toBe(before);
  });

  it('takes over a stale lock (its process no longer runs on this host)', () => {
    const dir = path.join(root, 'stale');
    const pid = deadPid();
    writeLock(dir, { pid, host: hostname(), command: 'old', since: 'then' });
    const lock = lockFolder(dir, 'new');
    expect(JSON.parse(readFileSync(lock.file, 'utf8'))).toMatchObject({ pid: process.pid });
    lock.release();
  });

  it('refuses a lock from another host, which it cannot check', () => {
    const dir = path.join(root, 'remote');
    writeLock(dir, { pid: deadPid(), host: 'elsewhere.invalid', command: 'c', since: 's' });
    expect(() => lockFolder(dir, 'z')).toThrow(/on elsewhere\.invalid.*it is on another host/);
  });

  it('refuses an unreadable lock file, saying what to delete', () => {
    const dir = path.join(root, 'garbage');
    const file = writeLock(dir, {});
    writeFileSync(file, 'not json');
    expect(() => lockFolder(dir, 'z')).toThrow(`is locked by ${file}, which cannot be read`);
  });
});
