import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import { homedir } from 'node:os';
import * as path from 'node:path';
import { writeFileAtomic } from '../files.js';

/** Environment variable naming the cache folder (wins over `$XDG_CACHE_HOME`). */
export const CACHE_ENV = 'WEIGHT_PREDICTION_CACHE';

/** First bytes of every cache file; the trailing digit is the format version. */
const MAGIC = Buffer.from('WPCACHE1', 'latin1');
/** Sections start at multiples of 8 bytes so typed-array views of them are aligned. */
const ALIGN = 8;

/**
 * The folder for decoded-data caches: `explicit` when given, else `$WEIGHT_PREDICTION_CACHE`, else
 * `$XDG_CACHE_HOME/weight-prediction`, else `~/.cache/weight-prediction` (the XDG default). Never
 * the data folder, which may be read-only or shared.
 */
export function resolveCacheDir(explicit?: string, env: NodeJS.ProcessEnv = process.env): string {
  if (explicit !== undefined && explicit !== '') return path.resolve(explicit);
  const fromEnv = env[CACHE_ENV];
  if (fromEnv !== undefined && fromEnv !== '') return path.resolve(fromEnv);
  const xdg = env.XDG_CACHE_HOME;
  // The XDG spec says a relative $XDG_CACHE_HOME is invalid and must be ignored.
  const base = xdg !== undefined && path.isAbsolute(xdg) ? xdg : path.join(homedir(), '.cache');
  return path.join(base, 'weight-prediction');
}

/** A SHA-256 hex digest of `parts` joined unambiguously (each length-prefixed). */
export function hashParts(parts: readonly string[]): string {
  const hash = createHash('sha256');
  for (const part of parts) {
    const bytes = Buffer.from(part, 'utf8');
    hash.update(`${bytes.length}:`);
    hash.update(bytes);
  }
  return hash.digest('hex');
}

const padding = (n: number) => (ALIGN - (n % ALIGN)) % ALIGN;

interface Header {
  key: string;
  meta: Record<string, unknown>;
  sections: number[];
  sha256: string;
}

function payloadDigest(sections: readonly Uint8Array[]): string {
  const hash = createHash('sha256');
  for (const s of sections) hash.update(s);
  return hash.digest('hex');
}

/**
 * Writes a cache file atomically (see `writeFileAtomic`). Layout:
 * magic, uint32 header length, JSON header (`key`, `meta`, section lengths, SHA-256 of the
 * sections), then each section, each padded to 8 bytes. Sections are written one by one rather than
 * concatenated, so a 180 MB payload is not copied first.
 */
export function writeCacheFile(
  file: string,
  key: string,
  meta: Record<string, unknown>,
  sections: readonly Uint8Array[],
): void {
  const dir = path.dirname(file);
  fs.mkdirSync(dir, { recursive: true });
  const header: Header = {
    key,
    meta,
    sections: sections.map((s) => s.byteLength),
    sha256: payloadDigest(sections),
  };
  const json = Buffer.from(JSON.stringify(header), 'utf8');
  const lead = Buffer.alloc(MAGIC.length + 4);
  MAGIC.copy(lead);
  lead.writeUInt32LE(json.length, MAGIC.length);
  const zeros = new Uint8Array(ALIGN);
  const chunks: Uint8Array[] = [];
  let offset = 0;
  const put = (bytes: Uint8Array) => {
    chunks.push(bytes);
    offset += bytes.byteLength;
  };
  put(lead);
  put(json);
  put(zeros.subarray(0, padding(offset)));
  for (const section of sections) {
    put(section);
    put(zeros.subarray(0, padding(offset)));
  }
  writeFileAtomic(file, chunks);
}

/** The sections and metadata of a valid cache file. */
export interface CacheContents {
  meta: Record<string, unknown>;
  /** Views into one buffer; each starts at a multiple of 8 bytes. */
  sections: Uint8Array[];
}

/**
 * Reads a cache file written by `writeCacheFile` under `key`. Returns undefined when the file is
 * missing, was written for another key (the data changed), or is damaged in any way (wrong magic,
 * bad header, wrong length, checksum mismatch): a cache is only ever a shortcut, so the caller then
 * rebuilds and rewrites it.
 */
export function readCacheFile(file: string, key: string): CacheContents | undefined {
  let fd: number;
  try {
    fd = fs.openSync(file, 'r');
  } catch {
    return undefined;
  }
  try {
    const size = fs.fstatSync(fd).size;
    if (size < MAGIC.length + 4) return undefined;
    // A fresh ArrayBuffer (not Buffer's shared pool) so section offsets are the real alignment.
    const bytes = new Uint8Array(size);
    let done = 0;
    while (done < size) {
      const n = fs.readSync(fd, bytes, done, Math.min(size - done, 1 << 30), done);
      if (n === 0) return undefined;
      done += n;
    }
    const buf = Buffer.from(bytes.buffer, 0, size);
    if (!buf.subarray(0, MAGIC.length).equals(MAGIC)) return undefined;
    const jsonLength = buf.readUInt32LE(MAGIC.length);
    let offset = MAGIC.length + 4 + jsonLength;
    if (offset > size) return undefined;
    let header: Header;
    try {
      header = JSON.parse(buf.toString('utf8', MAGIC.length + 4, offset)) as Header;
    } catch {
      return undefined;
    }
    if (
      header === null ||
      typeof header !== 'object' ||
      header.key !== key ||
      !Array.isArray(header.sections) ||
      typeof header.sha256 !== 'string' ||
      header.meta === null ||
      typeof header.meta !== 'object'
    ) {
      return undefined;
    }
    offset += padding(offset);
    const sections: Uint8Array[] = [];
    for (const length of header.sections) {
      if (!Number.isSafeInteger(length) || length < 0 || offset + length > size) return undefined;
      sections.push(bytes.subarray(offset, offset + length));
      offset += length + padding(offset + length);
    }
    if (offset !== size || payloadDigest(sections) !== header.sha256) return undefined;
    return { meta: header.meta, sections };
  } finally {
    fs.closeSync(fd);
  }
}
