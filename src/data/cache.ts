import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import { homedir } from 'node:os';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { writeFileAtomic } from '../files.js';

/** Environment variable naming the cache folder (wins over `$XDG_CACHE_HOME`). */
export const CACHE_ENV = 'WEIGHT_PREDICTION_CACHE';

/** First bytes of every cache file; the trailing digit is the format version. */
const MAGIC = Buffer.from('WPCACHE2', 'latin1');
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

/**
 * A SHA-256 of strings joined unambiguously (each prefixed with its UTF-8 length), fed one part at
 * a time so a long list (a part per file of a 60,000-image folder) is never built in memory.
 */
export class PartsHash {
  private readonly hash = createHash('sha256');
  /** Parts not yet hashed: one `update` per ~64 KB rather than per part. */
  private pending = '';

  add(part: string): this {
    this.pending += `${Buffer.byteLength(part, 'utf8')}:${part}`;
    if (this.pending.length >= 1 << 16) this.flush();
    return this;
  }

  /** The hex digest; call once. */
  digest(): string {
    this.flush();
    return this.hash.digest('hex');
  }

  private flush(): void {
    this.hash.update(this.pending, 'utf8');
    this.pending = '';
  }
}

/** The `PartsHash` digest of `parts`. */
export function hashParts(parts: readonly string[]): string {
  const hash = new PartsHash();
  for (const part of parts) hash.add(part);
  return hash.digest();
}

const padding = (n: number) => (ALIGN - (n % ALIGN)) % ALIGN;

interface Header {
  key: string;
  meta: Record<string, unknown>;
  sections: number[];
  /** `<algorithm>:<hex>` of the sections: `crc32:…` (or `sha256:…` where Node lacks zlib.crc32). */
  checksum: string;
}

/** zlib.crc32 (Node >= 20.15 / 22.2), about twice as fast as SHA-256 here. */
const crc32 = (zlib as { crc32?: (data: Uint8Array, value?: number) => number }).crc32;

/**
 * The checksum of the sections with `algorithm`, or undefined when this Node cannot compute it.
 * It detects damage (a cache is rebuilt then), not tampering; the key says which data it holds.
 */
function payloadChecksum(sections: readonly Uint8Array[], algorithm: string): string | undefined {
  if (algorithm === 'crc32' && crc32 !== undefined) {
    let value = 0;
    for (const s of sections) value = crc32(s, value);
    return `crc32:${(value >>> 0).toString(16).padStart(8, '0')}`;
  }
  if (algorithm === 'sha256') {
    const hash = createHash('sha256');
    for (const s of sections) hash.update(s);
    return `sha256:${hash.digest('hex')}`;
  }
  return undefined;
}

/**
 * Writes a cache file atomically (see `writeFileAtomic`). Layout:
 * magic, uint32 header length, JSON header (`key`, `meta`, section lengths, a CRC-32 of the
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
    checksum: payloadChecksum(sections, crc32 !== undefined ? 'crc32' : 'sha256') as string,
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
  /** Reads `into.length` bytes at `position`; false when the file ends first. */
  const readFully = (into: Uint8Array, position: number): boolean => {
    let done = 0;
    while (done < into.length) {
      const n = fs.readSync(fd, into, done, Math.min(into.length - done, 1 << 30), position + done);
      if (n === 0) return false;
      done += n;
    }
    return true;
  };
  try {
    const size = fs.fstatSync(fd).size;
    const lead = Buffer.alloc(MAGIC.length + 4);
    if (size < lead.length || !readFully(lead, 0)) return undefined;
    if (!lead.subarray(0, MAGIC.length).equals(MAGIC)) return undefined;
    const jsonLength = lead.readUInt32LE(MAGIC.length);
    let offset = lead.length + jsonLength;
    if (offset > size) return undefined;
    // The header first: a file for other data (a stale key) is turned down without reading it all.
    const json = Buffer.alloc(jsonLength);
    if (!readFully(json, lead.length)) return undefined;
    let header: Header;
    try {
      header = JSON.parse(json.toString('utf8')) as Header;
    } catch {
      return undefined;
    }
    if (
      header === null ||
      typeof header !== 'object' ||
      header.key !== key ||
      !Array.isArray(header.sections) ||
      typeof header.checksum !== 'string' ||
      header.meta === null ||
      typeof header.meta !== 'object'
    ) {
      return undefined;
    }
    offset += padding(offset);
    const ranges: [number, number][] = [];
    for (const length of header.sections) {
      if (!Number.isSafeInteger(length) || length < 0 || offset + length > size) return undefined;
      ranges.push([offset, offset + length]);
      offset += length + padding(offset + length);
    }
    if (offset !== size) return undefined;
    // One fresh ArrayBuffer for the whole file (not Buffer's shared pool), so section offsets are
    // the real alignment.
    const bytes = new Uint8Array(size);
    if (!readFully(bytes, 0)) return undefined;
    const sections = ranges.map(([begin, end]) => bytes.subarray(begin, end));
    const algorithm = header.checksum.slice(0, header.checksum.indexOf(':'));
    if (payloadChecksum(sections, algorithm) !== header.checksum) return undefined;
    return { meta: header.meta, sections };
  } finally {
    fs.closeSync(fd);
  }
}
