import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { UserInputError } from './errors.js';
import { ensureWritableDir } from './files.js';

/** The advisory lock file a command keeps in the output folder it writes to. */
export const LOCK_FILE = '.weight-prediction.lock';

/** What a lock file holds: who holds the folder. */
export interface LockOwner {
  pid: number;
  host: string;
  command: string;
  since: string;
}

export interface FolderLock {
  readonly file: string;
  /** Removes the lock (and the folder, when the lock created it and it is still empty). */
  release(): void;
}

function readOwner(file: string): LockOwner | 'unreadable' | 'gone' {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return 'gone';
    return 'unreadable';
  }
  try {
    const o = JSON.parse(text) as Partial<LockOwner>;
    if (typeof o.pid === 'number' && typeof o.host === 'string') {
      return {
        pid: o.pid,
        host: o.host,
        command: String(o.command ?? '?'),
        since: String(o.since ?? '?'),
      };
    }
  } catch {
    // Not JSON: reported as unreadable below.
  }
  return 'unreadable';
}

/** Whether process `pid` runs on this machine (a process of another user counts as running). */
function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Removes a folder this process created when nothing was written into it after all. */
function removeIfEmpty(dir: string): void {
  try {
    fs.rmdirSync(dir);
  } catch {
    // Not empty (or already gone): keep it.
  }
}

/**
 * Takes the advisory lock of output folder `dir` (created when missing) for this process, so two
 * commands never write one folder at once (a `compare --resume` beside the running `compare`
 * would train the same runs twice). A lock left by a process that no longer runs on this host is
 * stale and taken over; one held by a live process, or by a process on another host (which cannot
 * be checked from here), is refused with a message naming the holder. `name` is how messages call
 * the folder (e.g. `--out`). The lock is released when the process exits.
 *
 * The lock file appears complete or not at all: it is written under a temporary name and hard-linked
 * into place, which fails when a lock exists. Two processes taking over the same stale lock at the
 * same instant can both succeed; that window is accepted for an advisory lock.
 */
export function lockFolder(dir: string, command: string, name = 'outDir'): FolderLock {
  const created = !fs.existsSync(dir);
  ensureWritableDir(dir, name);
  const file = path.join(dir, LOCK_FILE);
  const owner: LockOwner = {
    pid: process.pid,
    host: os.hostname(),
    command,
    since: new Date().toISOString(),
  };
  const tmp = path.join(dir, `${LOCK_FILE}.${process.pid}.${Math.random().toString(36).slice(2)}`);
  fs.writeFileSync(tmp, JSON.stringify(owner) + '\n');
  try {
    for (let attempt = 0; ; attempt++) {
      try {
        fs.linkSync(tmp, file);
        break;
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      }
      const holder = readOwner(file);
      if (holder === 'gone' && attempt < 3) continue;
      const stale =
        holder !== 'gone' &&
        holder !== 'unreadable' &&
        holder.host === owner.host &&
        !isRunning(holder.pid);
      if (stale && attempt < 3) {
        fs.rmSync(file, { force: true });
        continue;
      }
      throw new UserInputError(
        typeof holder === 'string'
          ? `${name} ${dir} is locked by ${file}, which cannot be read: if no weight-prediction command is writing to this folder, delete that file`
          : `${name} ${dir} is in use by another weight-prediction command (pid ${holder.pid} on ${holder.host}, since ${holder.since}: ${holder.command}): wait for it to finish, or stop it; if it no longer runs${holder.host === owner.host ? '' : ` (it is on another host, so this one cannot check)`}, delete ${file}`,
      );
    }
  } catch (error) {
    fs.rmSync(tmp, { force: true });
    if (created) removeIfEmpty(dir);
    throw error;
  }
  fs.rmSync(tmp, { force: true });

  let held = true;
  const release = () => {
    if (!held) return;
    held = false;
    process.off('exit', release);
    const holder = readOwner(file);
    if (typeof holder !== 'string' && holder.pid === owner.pid && holder.host === owner.host) {
      fs.rmSync(file, { force: true });
    }
    if (created) removeIfEmpty(dir);
  };
  process.on('exit', release);
  return { file, release };
}
