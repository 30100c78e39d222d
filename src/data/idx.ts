import { existsSync, readFileSync, statSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { UserInputError } from '../errors.js';

/** Element types of the IDX format (LeCun's MNIST files), keyed by the header's type byte. */
const IDX_TYPES = {
  0x08: { dtype: 'uint8', bytes: 1 },
  0x09: { dtype: 'int8', bytes: 1 },
  0x0b: { dtype: 'int16', bytes: 2 },
  0x0c: { dtype: 'int32', bytes: 4 },
  0x0d: { dtype: 'float32', bytes: 4 },
  0x0e: { dtype: 'float64', bytes: 8 },
} as const;

export type IdxDtype = (typeof IDX_TYPES)[keyof typeof IDX_TYPES]['dtype'];

/** A decoded IDX array: `data` is row-major over `shape`, in host byte order. */
export interface IdxArray {
  dtype: IdxDtype;
  shape: number[];
  data: Uint8Array | Int8Array | Int16Array | Int32Array | Float32Array | Float64Array;
}

function hex(byte: number | undefined): string {
  return `0x${(byte ?? 0).toString(16).padStart(2, '0')}`;
}

/**
 * Decodes an IDX buffer: 2 zero bytes, a type byte, a dimension count d, d big-endian uint32
 * dimensions, then the big-endian elements. The data length must match the header exactly: a short
 * file is a truncated download, a long one is not the file the header describes.
 * A gzip buffer (magic 1f 8b) is inflated first, so `.gz` files work whatever their name.
 * @param source names the file in error messages.
 */
export function parseIdx(buffer: Uint8Array, source = 'IDX buffer'): IdxArray {
  let bytes = buffer;
  if (bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b) {
    try {
      bytes = gunzipSync(bytes);
    } catch (err) {
      throw new UserInputError(
        `${source}: corrupt or truncated gzip data (${(err as Error).message}); download the file again`,
      );
    }
  }
  if (bytes.length < 4) {
    throw new UserInputError(
      `${source}: truncated IDX file: ${bytes.length} bytes, the header alone needs at least 4`,
    );
  }
  if (bytes[0] !== 0 || bytes[1] !== 0) {
    throw new UserInputError(
      `${source}: bad magic number: not an IDX file (first bytes ${hex(bytes[0])} ${hex(bytes[1])}, expected 0x00 0x00)`,
    );
  }
  const typeByte = bytes[2] as number;
  const type = IDX_TYPES[typeByte as keyof typeof IDX_TYPES];
  if (type === undefined) {
    throw new UserInputError(
      `${source}: bad magic number: unknown IDX element type ${hex(typeByte)} (expected 0x08, 0x09, 0x0b, 0x0c, 0x0d or 0x0e)`,
    );
  }
  const ndim = bytes[3] as number;
  const headerBytes = 4 + 4 * ndim;
  if (bytes.length < headerBytes) {
    throw new UserInputError(
      `${source}: truncated IDX header: ${ndim} dimensions need ${headerBytes} bytes, the file has ${bytes.length}`,
    );
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const shape: number[] = [];
  let count = 1;
  for (let i = 0; i < ndim; i++) {
    const dim = view.getUint32(4 + 4 * i, false);
    shape.push(dim);
    count *= dim;
  }
  const expected = headerBytes + count * type.bytes;
  if (bytes.length !== expected) {
    const what = bytes.length < expected ? 'truncated' : 'size mismatch';
    throw new UserInputError(
      `${source}: ${what}: the header says ${type.dtype} [${shape.join(', ')}], so ${headerBytes} header bytes + ${expected - headerBytes} data bytes = ${expected}, but the file has ${bytes.length} bytes`,
    );
  }
  return { dtype: type.dtype, shape, data: decode(view, headerBytes, count, type.dtype) };
}

function decode(view: DataView, offset: number, count: number, dtype: IdxDtype): IdxArray['data'] {
  switch (dtype) {
    case 'uint8':
      return new Uint8Array(view.buffer, view.byteOffset + offset, count).slice();
    case 'int8':
      return new Int8Array(view.buffer, view.byteOffset + offset, count).slice();
    case 'int16': {
      const out = new Int16Array(count);
      for (let i = 0; i < count; i++) out[i] = view.getInt16(offset + 2 * i, false);
      return out;
    }
    case 'int32': {
      const out = new Int32Array(count);
      for (let i = 0; i < count; i++) out[i] = view.getInt32(offset + 4 * i, false);
      return out;
    }
    case 'float32': {
      const out = new Float32Array(count);
      for (let i = 0; i < count; i++) out[i] = view.getFloat32(offset + 4 * i, false);
      return out;
    }
    case 'float64': {
      const out = new Float64Array(count);
      for (let i = 0; i < count; i++) out[i] = view.getFloat64(offset + 8 * i, false);
      return out;
    }
  }
}

/** Reads and decodes an IDX file (plain or gzip-compressed). Errors name the file. */
export function readIdxFile(path: string): IdxArray {
  if (!existsSync(path)) throw new UserInputError(`IDX file not found: ${path}`);
  if (!statSync(path).isFile()) throw new UserInputError(`IDX path is not a file: ${path}`);
  return parseIdx(readFileSync(path), path);
}
