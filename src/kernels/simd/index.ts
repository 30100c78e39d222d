/**
 * The fused optimizer loops as WebAssembly SIMD (wasm/steps.c), for TF.js's wasm backend when the
 * native addon is not there: a browser, or Node without a C++ toolchain. The module imports the
 * wasm backend's own memory, so its loops run in place on the tensors' storage (arrays are passed
 * as byte offsets into that heap), four floats per instruction, with no copy in or out. It is
 * instantiated once per heap; without wasm SIMD, or on a heap it cannot import (the threaded
 * build's shared memory), there are none and the step runs as before.
 */
import * as tf from '@tensorflow/tfjs';
import type { FusedRuleKernel, SimdLoops } from '../../prediction/fused/types.js';
import { STEPS_MODULE_BASE64 } from './steps-module.js';

/** The WebAssembly API members used here (the ES library the package compiles against has none). */
interface WasmMemory {
  readonly buffer: ArrayBuffer;
}
type WasmModule = object;
declare const WebAssembly: {
  Memory: abstract new (...args: never[]) => WasmMemory;
  Module: new (bytes: Uint8Array) => WasmModule;
  Instance: new (module: WasmModule, imports: object) => { exports: object };
  validate(bytes: Uint8Array): boolean;
};

/** The module's exports. Pointers are byte offsets into `memory`; scalars are float32. */
export interface SimdSteps {
  readonly memory: WasmMemory;
  adam_predict(
    theta: number,
    predicted: number,
    m: number,
    v: number,
    n: number,
    a: number,
    scale: number,
    invSqrtBc2: number,
    epsilon: number,
  ): void;
  adam_update(
    theta: number,
    grad: number,
    m: number,
    v: number,
    vMax: number,
    predicted: number,
    n: number,
    gradScale: number,
    l2: number,
    beta1: number,
    beta2: number,
    oneMinusBeta1: number,
    oneMinusBeta2: number,
    keep: number,
    stepSize: number,
    invSqrtBc2: number,
    epsilon: number,
    predictA: number,
    predictScale: number,
    predictInvSqrtBc2: number,
  ): void;
  sum_of_squares(x: number, n: number): number;
}

let enabled = true;
let compiled: WasmModule | null | undefined;
const instances = new WeakMap<WasmMemory, SimdSteps | null>();

/**
 * Switches the SIMD loops on or off from now on (benchmarks and tests compare them with the JS
 * loops and tf ops).
 */
export function setSimdStepsEnabled(on: boolean): void {
  enabled = on;
}

/** The SIMD loops on the active backend's heap, or null (not wasm, no SIMD, switched off). */
export function simdSteps(): SimdSteps | null {
  if (!enabled || tf.getBackend() !== 'wasm') return null;
  const memory = (tf.backend() as unknown as { wasm?: { asm?: { memory?: unknown } } }).wasm?.asm
    ?.memory;
  if (!(memory instanceof WebAssembly.Memory)) return null;
  let steps = instances.get(memory);
  if (steps === undefined) {
    steps = instantiate(memory);
    instances.set(memory, steps);
  }
  return steps;
}

function instantiate(memory: WasmMemory): SimdSteps | null {
  compiled ??= compile();
  if (compiled === null) return null;
  try {
    const instance = new WebAssembly.Instance(compiled, { env: { memory } });
    return { memory, ...(instance.exports as unknown as Omit<SimdSteps, 'memory'>) };
  } catch {
    // A shared heap (the threaded wasm build) cannot be imported as this module's plain memory.
    return null;
  }
}

/** The compiled module; null where WebAssembly SIMD is not supported. */
function compile(): WasmModule | null {
  const bytes = Uint8Array.from(atob(STEPS_MODULE_BASE64), (c) => c.charCodeAt(0));
  if (!WebAssembly.validate(bytes)) return null;
  return new WebAssembly.Module(bytes);
}

/**
 * A rule's SIMD loops as its `FusedKernels.simd`: `make` binds them to a heap's module (once per
 * heap); the result gives them, with the SIMD gradient norm, for the active backend, or null
 * where there are none. `inHeap` tells a loop whether its arrays are in the heap: when one is not
 * (a host copy of a gradient that lives on another backend), the loop runs the rule's JS one.
 */
export function simdKernels(
  make: (
    steps: SimdSteps,
    inHeap: (...arrays: (Float32Array | null)[]) => boolean,
  ) => FusedRuleKernel,
): () => SimdLoops | null {
  const made = new WeakMap<SimdSteps, SimdLoops>();
  return () => {
    const steps = simdSteps();
    if (steps === null) return null;
    let loops = made.get(steps);
    if (loops === undefined) {
      const inHeap = (...arrays: (Float32Array | null)[]) => {
        const heap = steps.memory.buffer;
        for (const a of arrays) if (a !== null && a.buffer !== heap) return false;
        return true;
      };
      loops = {
        rule: make(steps, inHeap),
        sumOfSquares: (x) => (inHeap(x) ? steps.sum_of_squares(x.byteOffset, x.length) : null),
      };
      made.set(steps, loops);
    }
    return loops;
  };
}
