import * as fs from 'node:fs';
import * as path from 'node:path';
import { UserInputError } from './errors.js';

/** fsync a directory so a rename inside it survives a crash (a no-op where unsupported). */
function syncDir(dir: string): void {
  let fd: number | undefined;
  try {
    fd = fs.openSync(dir, 'r');
    fs.fsyncSync(fd);
  } catch {
    // Some platforms cannot open or fsync a directory; the rename is still atomic there.
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
}

/**
 * Writes `data` to `file` atomically: a temp file in the same folder (named by pid and a random
 * suffix, so concurrent writers never share one), fsync, rename over the target, fsync the folder.
 * A crash leaves either the old file or the new one, never a mix. `data` may be a list of chunks,
 * written in order, so a large payload need not be concatenated first.
 */
export function writeFileAtomic(
  file: string,
  data: string | Uint8Array | readonly Uint8Array[],
): void {
  const dir = path.dirname(file);
  const suffix = Math.random().toString(36).slice(2, 10);
  const tmp = path.join(dir, `.${path.basename(file)}.${process.pid}.${suffix}.tmp`);
  const chunks =
    typeof data === 'string'
      ? [Buffer.from(data, 'utf8')]
      : data instanceof Uint8Array
        ? [data]
        : data;
  const fd = fs.openSync(tmp, 'w');
  try {
    for (const chunk of chunks) {
      let done = 0;
      while (done < chunk.byteLength) {
        done += fs.writeSync(fd, chunk, done, chunk.byteLength - done);
      }
    }
    fs.fsyncSync(fd);
  } catch (error) {
    fs.closeSync(fd);
    fs.rmSync(tmp, { force: true });
    throw error;
  }
  fs.closeSync(fd);
  fs.renameSync(tmp, file);
  syncDir(dir);
}

/**
 * Creates `dir` if needed and checks that files can be created in it, so a bad `outDir` fails
 * before any training starts rather than at the first checkpoint. `name` is how messages call the
 * folder (the option or flag that gave it).
 */
export function ensureWritableDir(dir: string, name = 'outDir'): void {
  try {
    if (fs.existsSync(dir) && !fs.statSync(dir).isDirectory()) {
      throw new UserInputError(
        `${name} ${JSON.stringify(dir)} is a file, not a folder: pass a folder path (it is created if missing)`,
      );
    }
    fs.mkdirSync(dir, { recursive: true });
    const probe = path.join(dir, `.write-test.${process.pid}`);
    fs.writeFileSync(probe, '');
    fs.rmSync(probe);
  } catch (error) {
    if (error instanceof UserInputError) throw error;
    const reason = error instanceof Error ? error.message : String(error);
    throw new UserInputError(
      `${name} ${JSON.stringify(dir)} is not writable (${reason}): pass a folder you can write to`,
    );
  }
}

/**
 * `metrics.jsonl`, appended one line at a time and flushed to disk after every line, so a run
 * killed at any moment leaves whole lines (plus at most one partial last line, which a resume
 * rewrites).
 */
export class JsonLinesWriter {
  private fd: number;

  /** Opens `file` for appending; `initialLines` (when given) replace its content atomically first. */
  constructor(
    readonly file: string,
    initialLines?: readonly unknown[],
  ) {
    if (initialLines !== undefined) {
      writeFileAtomic(file, initialLines.map((r) => JSON.stringify(r) + '\n').join(''));
    }
    this.fd = fs.openSync(file, 'a');
  }

  append(record: unknown): void {
    fs.writeSync(this.fd, JSON.stringify(record) + '\n');
    fs.fsyncSync(this.fd);
  }

  close(): void {
    if (this.fd >= 0) fs.closeSync(this.fd);
    this.fd = -1;
  }
}
