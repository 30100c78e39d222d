import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as tf from '@tensorflow/tfjs';
import { UserInputError } from '../errors.js';
import { writeFileAtomic } from '../files.js';
import type { MetricsRecord } from './log-format.js';

/**
 * One training checkpoint in one file:
 *
 *     magic (8 bytes "WPCKPT\n\0") · format version (u32 LE) · header length (u32 LE) ·
 *     header (UTF-8 JSON) · payload (raw little-endian float32 / int32 values) · SHA-256 of all
 *     the preceding bytes (32 bytes)
 *
 * The header holds everything but tensor values (progress, RNG and dropout states, the metrics so
 * far, the run's config hash) plus each tensor's group, name, shape, dtype and payload offset.
 */
export const CHECKPOINT_MAGIC = 'WPCKPT\n\0';
export const CHECKPOINT_VERSION = 1;
const HASH_BYTES = 32;

export type TensorGroup = 'model' | 'optimizer' | 'carry';

/** A tensor's values on the host, named. */
export interface NamedArray {
  name: string;
  shape: number[];
  dtype: 'float32' | 'int32';
  values: Float32Array | Int32Array;
}

/** Where a run stands: everything needed to continue it exactly. */
export interface CheckpointState {
  /** Hash of the run's resolved configuration (see `configHash`). */
  configHash: string;
  /** Completed optimizer updates. */
  step: number;
  /** 1-based epoch in progress (epochs + 1 once the run has finished). */
  epoch: number;
  /** Batches of `epoch` already trained on. */
  batchInEpoch: number;
  /** RNG states (JSON values): at the start of the epoch in progress, and now. */
  rng: { epochStart: unknown; current: unknown };
  /** The dropout seed stream's state, or null when the model has none. */
  dropout: unknown;
  /** Loop accumulators (float64 sums, timings) for the epoch in progress. */
  loop: Record<string, number>;
  /** Every metrics.jsonl record written up to this checkpoint. */
  metrics: MetricsRecord[];
  model: NamedArray[];
  optimizer: NamedArray[];
  /** State carried between batches, e.g. an LSTM's hidden state across BPTT windows. */
  carry: NamedArray[];
}

interface TensorEntry {
  group: TensorGroup;
  name: string;
  shape: number[];
  dtype: 'float32' | 'int32';
  offset: number;
  length: number;
}

type Header = Omit<CheckpointState, 'model' | 'optimizer' | 'carry'> & { tensors: TensorEntry[] };

/** JSON with sorted object keys, so equal configurations hash equally whatever their key order. */
export function stableStringify(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(stableStringify).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined && typeof v !== 'function')
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${stableStringify(v)}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

/** SHA-256 (hex) of a configuration's stable JSON. */
export function configHash(config: unknown): string {
  return createHash('sha256').update(stableStringify(config)).digest('hex');
}

/** Serializes a checkpoint to bytes (see the format above). */
export function encodeCheckpoint(state: CheckpointState): Uint8Array {
  const tensors: TensorEntry[] = [];
  const chunks: Uint8Array[] = [];
  let offset = 0;
  const groups: [TensorGroup, NamedArray[]][] = [
    ['model', state.model],
    ['optimizer', state.optimizer],
    ['carry', state.carry],
  ];
  for (const [group, arrays] of groups) {
    for (const a of arrays) {
      const bytes = new Uint8Array(a.values.buffer, a.values.byteOffset, a.values.byteLength);
      tensors.push({
        group,
        name: a.name,
        shape: a.shape,
        dtype: a.dtype,
        offset,
        length: a.values.length,
      });
      chunks.push(bytes);
      offset += bytes.byteLength;
    }
  }
  const header: Header = {
    configHash: state.configHash,
    step: state.step,
    epoch: state.epoch,
    batchInEpoch: state.batchInEpoch,
    rng: state.rng,
    dropout: state.dropout ?? null,
    loop: state.loop,
    metrics: state.metrics,
    tensors,
  };
  const headerBytes = Buffer.from(JSON.stringify(header), 'utf8');
  const prefix = Buffer.alloc(16);
  prefix.write(CHECKPOINT_MAGIC, 0, 'latin1');
  prefix.writeUInt32LE(CHECKPOINT_VERSION, 8);
  prefix.writeUInt32LE(headerBytes.byteLength, 12);
  const body = Buffer.concat([prefix, headerBytes, ...chunks]);
  const digest = createHash('sha256').update(body).digest();
  return Buffer.concat([body, digest]);
}

function corrupt(file: string, what: string): never {
  throw new UserInputError(
    `Checkpoint ${JSON.stringify(file)} is not usable: ${what}. Delete it to start the run afresh, or point to another output folder.`,
  );
}

const TENSOR_GROUPS: readonly string[] = ['model', 'optimizer', 'carry'];

/**
 * A valid checksum proves the bytes are the ones written, not that a writer (another version, a
 * tool) gave the header the fields this reader uses: checked here so a bad one is a message.
 */
function checkHeaderShape(header: unknown, file: string): asserts header is Header {
  const isObject = (v: unknown): v is Record<string, unknown> =>
    v !== null && typeof v === 'object' && !Array.isArray(v);
  const isCount = (v: unknown) => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
  if (!isObject(header)) corrupt(file, 'its header is not a JSON object');
  const bad = (field: string) =>
    corrupt(file, `its header field "${field}" is missing or malformed`);
  if (typeof header.configHash !== 'string') bad('configHash');
  for (const field of ['step', 'epoch', 'batchInEpoch'] as const) {
    if (!isCount(header[field])) bad(field);
  }
  if (!isObject(header.rng) || !('epochStart' in header.rng) || !('current' in header.rng)) {
    bad('rng');
  }
  if (!isObject(header.loop)) bad('loop');
  if (!Array.isArray(header.metrics)) bad('metrics');
  if (!Array.isArray(header.tensors)) bad('tensors');
  (header.tensors as unknown[]).forEach((t, i) => {
    if (
      !isObject(t) ||
      !TENSOR_GROUPS.includes(t.group as string) ||
      typeof t.name !== 'string' ||
      !Array.isArray(t.shape) ||
      !t.shape.every(isCount) ||
      (t.dtype !== 'float32' && t.dtype !== 'int32') ||
      !isCount(t.offset) ||
      !isCount(t.length)
    ) {
      bad(`tensors[${i}]`);
    }
  });
}

/** Parses and verifies (magic, version, checksum, header) a checkpoint's bytes. */
export function decodeCheckpoint(bytes: Uint8Array, file = '<memory>'): CheckpointState {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (buf.byteLength < 16 + HASH_BYTES) corrupt(file, `it is truncated (${buf.byteLength} bytes)`);
  if (buf.toString('latin1', 0, 8) !== CHECKPOINT_MAGIC) {
    corrupt(file, 'it does not start with the checkpoint magic string (not a checkpoint file)');
  }
  const version = buf.readUInt32LE(8);
  if (version !== CHECKPOINT_VERSION) {
    corrupt(file, `format version ${version}, this program reads version ${CHECKPOINT_VERSION}`);
  }
  const bodyEnd = buf.byteLength - HASH_BYTES;
  const digest = createHash('sha256').update(buf.subarray(0, bodyEnd)).digest();
  if (!digest.equals(buf.subarray(bodyEnd))) {
    corrupt(file, 'its SHA-256 checksum does not match (the file is truncated or damaged)');
  }
  const headerLength = buf.readUInt32LE(12);
  if (16 + headerLength > bodyEnd) corrupt(file, 'its header length runs past the end of the file');
  let header: unknown;
  try {
    header = JSON.parse(buf.toString('utf8', 16, 16 + headerLength));
  } catch {
    corrupt(file, 'its header is not valid JSON');
  }
  checkHeaderShape(header, file);
  const payloadStart = 16 + headerLength;
  const payloadLength = bodyEnd - payloadStart;
  const out: Pick<CheckpointState, TensorGroup> = { model: [], optimizer: [], carry: [] };
  for (const t of header.tensors) {
    const byteLength = t.length * 4;
    if (t.offset < 0 || t.offset + byteLength > payloadLength || t.offset % 4 !== 0) {
      corrupt(file, `tensor ${t.name} lies outside the payload`);
    }
    const size = t.shape.reduce((a, b) => a * b, 1);
    if (size !== t.length)
      corrupt(file, `tensor ${t.name} has shape [${t.shape}] but ${t.length} values`);
    // Copy so the arrays are 4-byte aligned and independent of the file buffer.
    const raw = new Uint8Array(byteLength);
    raw.set(buf.subarray(payloadStart + t.offset, payloadStart + t.offset + byteLength));
    const values = t.dtype === 'int32' ? new Int32Array(raw.buffer) : new Float32Array(raw.buffer);
    out[t.group].push({ name: t.name, shape: t.shape, dtype: t.dtype, values });
  }
  return {
    configHash: header.configHash,
    step: header.step,
    epoch: header.epoch,
    batchInEpoch: header.batchInEpoch,
    rng: header.rng,
    dropout: header.dropout,
    loop: header.loop,
    metrics: header.metrics,
    ...out,
  };
}

/**
 * Writes a checkpoint atomically: the previous checkpoint at `file` stays intact until the new one
 * is complete and on disk.
 */
export function saveCheckpoint(file: string, state: CheckpointState): void {
  writeFileAtomic(file, encodeCheckpoint(state));
}

/** Reads and verifies a checkpoint file; refuses a damaged one with a UserInputError. */
export function loadCheckpoint(file: string): CheckpointState {
  let bytes: Buffer;
  try {
    bytes = fs.readFileSync(file);
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new UserInputError(`Cannot read checkpoint ${JSON.stringify(file)}: ${reason}`);
  }
  return decodeCheckpoint(bytes, file);
}

/** What a checkpoint must match to be resumed by a given run. */
export interface CheckpointExpectation {
  configHash: string;
  model: { name: string; shape: number[] }[];
  optimizer?: { name: string; shape: number[] }[];
}

function describeList(list: { name: string; shape: number[] }[]): string {
  return list.map((v) => `${v.name}[${v.shape}]`).join(', ');
}

/**
 * Checks that a checkpoint belongs to this run: same configuration and the same model variables
 * (names and shapes, in order). Throws a UserInputError saying what differs.
 */
export function validateCheckpoint(
  state: CheckpointState,
  expected: CheckpointExpectation,
  file = '<memory>',
): void {
  if (state.configHash !== expected.configHash) {
    throw new UserInputError(
      `Checkpoint ${JSON.stringify(file)} was written by a run with a different configuration (config hash ${state.configHash.slice(0, 12)}…, this run ${expected.configHash.slice(0, 12)}…): resume with the same options, or use another output folder.`,
    );
  }
  const compare = (what: string, have: NamedArray[], want: { name: string; shape: number[] }[]) => {
    if (have.length !== want.length) {
      throw new UserInputError(
        `Checkpoint ${JSON.stringify(file)} holds ${have.length} ${what} variables but this run has ${want.length} (checkpoint: ${describeList(have)}; run: ${describeList(want)})`,
      );
    }
    want.forEach((w, i) => {
      const h = have[i]!;
      if (h.name !== w.name || h.shape.join(',') !== w.shape.join(',')) {
        throw new UserInputError(
          `Checkpoint ${JSON.stringify(file)} ${what} variable ${i} is ${h.name}[${h.shape}] but this run has ${w.name}[${w.shape}]: resume with the same model, or use another output folder.`,
        );
      }
    });
  };
  compare('model', state.model, expected.model);
  if (expected.optimizer) compare('optimizer', state.optimizer, expected.optimizer);
}

/** A model's variables, named by their layer-scoped names (without TF.js's per-process suffixes). */
export function modelVariableSpecs(model: tf.LayersModel): { name: string; shape: number[] }[] {
  return model.weights.map((w) => ({ name: w.originalName, shape: [...w.shape] as number[] }));
}

async function toNamedArray(name: string, t: tf.Tensor): Promise<NamedArray> {
  const dtype = t.dtype === 'int32' ? 'int32' : 'float32';
  if (t.dtype !== 'int32' && t.dtype !== 'float32') {
    throw new Error(`Cannot checkpoint ${name}: dtype ${t.dtype} (only float32 and int32)`);
  }
  const data = await t.data();
  const values = dtype === 'int32' ? Int32Array.from(data) : Float32Array.from(data);
  return { name, shape: [...t.shape], dtype, values };
}

/** Copies every model variable (trainable or not) to the host. */
export async function captureModel(model: tf.LayersModel): Promise<NamedArray[]> {
  const out: NamedArray[] = [];
  for (const w of model.weights) out.push(await toNamedArray(w.originalName, w.read()));
  return out;
}

/**
 * Optimizer slot names are `<variable name>/<slot>`, and TF.js suffixes a variable's name (`_1`, …)
 * when a layer of the same name was built before in the process. Checkpoints store the layer-scoped
 * `originalName`, so a checkpoint resumes in any process; these maps translate both ways.
 */
function variableNameMaps(model: tf.LayersModel | undefined) {
  const toSaved = new Map<string, string>();
  const toLive = new Map<string, string>();
  for (const w of model?.weights ?? []) {
    const live = (w.read() as tf.Variable).name;
    toSaved.set(live, w.originalName);
    toLive.set(w.originalName, live);
  }
  const rename = (name: string, map: Map<string, string>) => {
    const cut = name.lastIndexOf('/');
    const mapped = cut > 0 ? map.get(name.slice(0, cut)) : undefined;
    return mapped === undefined ? name : `${mapped}${name.slice(cut)}`;
  };
  return {
    saved: (name: string) => rename(name, toSaved),
    live: (name: string) => rename(name, toLive),
  };
}

/** Copies the optimizer's whole state (`getWeights()`) to the host and disposes the copies it made. */
export async function captureOptimizer(
  optimizer: tf.Optimizer,
  model?: tf.LayersModel,
): Promise<NamedArray[]> {
  const names = variableNameMaps(model);
  const weights = await optimizer.getWeights();
  try {
    const out: NamedArray[] = [];
    for (const w of weights) out.push(await toNamedArray(names.saved(w.name), w.tensor));
    return out;
  } finally {
    // getWeights returns fresh tensors for the iteration count and, in some optimizers, the slots
    // themselves: dispose only the ones that are not live variables.
    for (const w of weights) if (!(w.tensor instanceof tf.Variable)) w.tensor.dispose();
  }
}

/** Copies tensors to the host (for carried state). */
export async function captureTensors(tensors: tf.Tensor[], prefix: string): Promise<NamedArray[]> {
  const out: NamedArray[] = [];
  for (let i = 0; i < tensors.length; i++)
    out.push(await toNamedArray(`${prefix}${i}`, tensors[i]!));
  return out;
}

export function arrayToTensor(a: NamedArray): tf.Tensor {
  return tf.tensor(a.values, a.shape, a.dtype);
}

/** Writes saved values into the model's variables (shapes already validated). */
export function restoreModel(model: tf.LayersModel, arrays: NamedArray[]): void {
  model.weights.forEach((w, i) => {
    const t = arrayToTensor(arrays[i]!);
    w.write(t);
    t.dispose();
  });
}

/** Restores the optimizer's state; optimizers copy what they are given, so the inputs are disposed. */
export async function restoreOptimizer(
  optimizer: tf.Optimizer,
  arrays: NamedArray[],
  model?: tf.LayersModel,
): Promise<void> {
  const names = variableNameMaps(model);
  const named = arrays.map((a) => ({ name: names.live(a.name), tensor: arrayToTensor(a) }));
  try {
    await optimizer.setWeights(named);
  } finally {
    for (const n of named) if (!n.tensor.isDisposed) n.tensor.dispose();
  }
}
