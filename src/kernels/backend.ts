/**
 * Picks the TF.js backend for training: native TensorFlow (`@tensorflow/tfjs-node`) when the user
 * has installed it, else wasm with the training kernels registered, else cpu with its kernels.
 */
import * as tf from '@tensorflow/tfjs';
import { UserInputError } from '../errors.js';
import { accelerator, acceleratorUnavailableReason } from '../accelerator.js';
import { simdSteps } from './simd/index.js';
import { registerCpuTrainingKernels } from './cpu.js';
import { registerWasmTrainingKernels } from './wasm.js';

export type BackendPreference = 'auto' | 'wasm' | 'cpu' | 'tensorflow';

const PREFERENCES: readonly BackendPreference[] = ['auto', 'wasm', 'cpu', 'tensorflow'];

/** Held in a variable so TypeScript does not try to resolve the optional package. */
const TFJS_NODE = '@tensorflow/tfjs-node';

async function tryTensorflow(): Promise<boolean> {
  try {
    await import(TFJS_NODE);
    return await tf.setBackend('tensorflow');
  } catch {
    return false;
  }
}

/**
 * The wasm backend's module once `selectBackend` has loaded it. Imported on demand: importing it
 * registers the wasm backend above cpu, so a user who never asks for it would find TF.js's
 * default backend uninitialised ("await tf.ready()") after merely importing this package.
 */
let wasmModule: typeof import('@tensorflow/tfjs-backend-wasm') | undefined;

async function tryWasm(): Promise<boolean> {
  try {
    wasmModule ??= await import('@tensorflow/tfjs-backend-wasm');
  } catch {
    return false;
  }
  registerWasmTrainingKernels();
  try {
    return await tf.setBackend('wasm');
  } catch {
    return false;
  }
}

async function useCpu(): Promise<string> {
  registerCpuTrainingKernels();
  if (!(await tf.setBackend('cpu'))) throw new Error('TF.js could not start its cpu backend.');
  return 'cpu';
}

/**
 * Sets the TF.js backend and returns the name of the one in use. `'auto'` tries `tensorflow`
 * (only if `@tensorflow/tfjs-node` is installed), then `wasm`, then `cpu`; naming a backend
 * insists on it.
 */
export async function selectBackend(preference: BackendPreference = 'auto'): Promise<string> {
  if (!PREFERENCES.includes(preference)) {
    throw new UserInputError(
      `Unknown backend '${String(preference)}': use one of ${PREFERENCES.join(', ')}.`,
    );
  }
  if (preference === 'tensorflow') {
    if (await tryTensorflow()) return 'tensorflow';
    throw new UserInputError(
      "Backend 'tensorflow' needs @tensorflow/tfjs-node, which is not installed (or failed to " +
        "load): run `npm install @tensorflow/tfjs-node`, or use backend 'auto', 'wasm' or 'cpu'.",
    );
  }
  if (preference === 'auto' && (await tryTensorflow())) return 'tensorflow';
  if (preference === 'cpu') return useCpu();
  if (await tryWasm()) return 'wasm';
  if (preference === 'wasm') {
    throw new Error(
      "TF.js's wasm backend failed to initialise; use backend 'cpu' (slower) instead.",
    );
  }
  return useCpu();
}

/**
 * One line for logs: the backend in use, for wasm whether SIMD is on and how many threads, and
 * whether the native addon runs the matmuls, convolutions and Adam steps (and on how many threads)
 * or, without it, whether the package's WebAssembly SIMD loops run the Adam steps.
 */
export function describeBackend(): string {
  const name = tf.getBackend();
  if (name === 'tensorflow') return name;
  let text = name;
  if (name === 'wasm') {
    const simd = tf.env().getFlags()['WASM_HAS_SIMD_SUPPORT'];
    const simdText = simd === undefined ? 'SIMD unknown' : simd ? 'SIMD on' : 'SIMD off';
    // Unknown when the user loaded the wasm backend themselves rather than through selectBackend.
    const threads = wasmModule?.getThreadsCount();
    const threadText =
      threads === undefined ? '' : `, ${threads} thread${threads === 1 ? '' : 's'}`;
    text = `wasm (${simdText}${threadText})`;
  }
  const native = accelerator();
  if (native === null) {
    // Without the addon, wasm runs the Adam steps in the package's SIMD loops when it can.
    if (name === 'wasm')
      text += simdSteps() ? ', Adam steps in WebAssembly SIMD' : ', Adam steps in tf ops';
    return `${text}, native addon off: ${acceleratorUnavailableReason() ?? ''}`;
  }
  const threads = native.threads();
  const scope = name === 'wasm' ? 'matmul, conv and Adam steps' : 'Adam steps';
  return `${text} + native addon (${scope}; ${threads} thread${threads === 1 ? '' : 's'})`;
}
