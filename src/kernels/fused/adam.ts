import type { AdamRuleOptions } from '../../rules/adam.js';
import { nativeKernels } from '../native.js';
import type { FusedRuleKernel } from './types.js';

/**
 * Adam / AdamW (`rules/adam.ts`) as single-pass loops in float32 arithmetic. Per element of an update it reads θ, g, m,
 * v (and vMax) once and writes θ, m, v (and vMax) once: 28 bytes (36 with AMSGrad) instead of a
 * pass and a fresh tensor per tf op. The native addon runs the same arithmetic in C++ on all cores
 * (native/adam.cc, bit-identical); these JS loops are its fallback.
 */
export function adamFusedKernel(o: AdamRuleOptions): FusedRuleKernel {
  const { beta1, beta2, epsilon, amsgrad, decoupledWeightDecay } = o;
  return {
    predict(theta, cache, state, completed, a, b) {
      // θ̂ = a·θ − b·m̂/(√v̂ + ε), with m̂ = m/bc1 and √v̂ = √v/√bc2 (v, never vMax).
      const bc1 = 1 - beta1 ** completed;
      const invSqrtBc2 = 1 / Math.sqrt(1 - beta2 ** completed);
      const native = nativeKernels();
      if (native) {
        native.adamPredict(theta, cache, state[0]!, state[1]!, a, b / bc1, invSqrtBc2, epsilon);
      } else {
        predictLoop(theta, cache, state[0]!, state[1]!, a, b / bc1, invSqrtBc2, epsilon);
      }
    },

    update(thetaIn, thetaOut, grad, gradScale, state, { step, learningRate: lr, weightDecay: wd }) {
      // AdamW shrinks θ by (1 − ηλ) before the step; Adam adds λθ to the gradient. Like the
      // tf-ops rule and PyTorch's float32 step, the loops compute in float32 throughout.
      const c: UpdateScalars = {
        gradScale,
        l2: decoupledWeightDecay ? 0 : wd,
        beta1,
        beta2,
        keep: Math.fround(decoupledWeightDecay ? 1 - lr * wd : 1),
        stepSize: lr / (1 - beta1 ** step),
        invSqrtBc2: 1 / Math.sqrt(1 - beta2 ** step),
        epsilon,
      };
      const [m, v, vMax] = state as [Float32Array, Float32Array, Float32Array?];
      const native = nativeKernels();
      if (native) {
        native.adamUpdate(
          thetaIn,
          thetaOut,
          grad,
          m,
          v,
          amsgrad ? vMax! : null,
          c.gradScale,
          c.l2,
          beta1,
          beta2,
          c.keep,
          c.stepSize,
          c.invSqrtBc2,
          epsilon,
        );
      } else if (amsgrad) amsgradLoop(thetaIn, thetaOut, grad, m, v, vMax!, c);
      else updateLoop(thetaIn, thetaOut, grad, m, v, c);
    },
  };
}

interface UpdateScalars {
  gradScale: number;
  l2: number;
  beta1: number;
  beta2: number;
  keep: number;
  stepSize: number;
  invSqrtBc2: number;
  epsilon: number;
}

// Float32 arithmetic written out: every operation is rounded with Math.fround (exact float32
// emulation for +, −, ×, ÷ and √, since a double carries more than twice float32's precision), so
// these loops give bit for bit what native/adam.cc computes with C floats. The loops are top-level
// functions with every scalar in a local: V8 then keeps them in registers (measurably faster here
// than reading them from a closure inside the loop).

const f = Math.fround;

function predictLoop(
  theta: Float32Array,
  cache: Float32Array,
  m: Float32Array,
  v: Float32Array,
  a64: number,
  scale64: number,
  invSqrtBc264: number,
  epsilon64: number,
): void {
  const a = f(a64);
  const scale = f(scale64);
  const invSqrtBc2 = f(invSqrtBc264);
  const epsilon = f(epsilon64);
  const n = theta.length;
  for (let i = 0; i < n; i++) {
    const t = theta[i]!;
    cache[i] = t;
    theta[i] = f(a * t) - f(f(scale * m[i]!) / f(f(f(Math.sqrt(v[i]!)) * invSqrtBc2) + epsilon));
  }
}

/** The update's scalars rounded to float32, as native/adam.cc rounds them. */
function float32Scalars(c: UpdateScalars): UpdateScalars & { omb1: number; omb2: number } {
  return {
    gradScale: f(c.gradScale),
    l2: f(c.l2),
    beta1: f(c.beta1),
    beta2: f(c.beta2),
    omb1: f(1 - c.beta1),
    omb2: f(1 - c.beta2),
    keep: f(c.keep),
    stepSize: f(c.stepSize),
    invSqrtBc2: f(c.invSqrtBc2),
    epsilon: f(c.epsilon),
  };
}

function updateLoop(
  thetaIn: Float32Array,
  thetaOut: Float32Array,
  grad: Float32Array,
  m: Float32Array,
  v: Float32Array,
  c64: UpdateScalars,
): void {
  const { gradScale, l2, beta1, beta2, omb1, omb2, keep, stepSize, invSqrtBc2, epsilon } =
    float32Scalars(c64);
  const n = thetaIn.length;
  for (let i = 0; i < n; i++) {
    const p = thetaIn[i]!;
    const g = f(f(grad[i]! * gradScale) + f(l2 * p));
    const mi = f(f(beta1 * m[i]!) + f(omb1 * g));
    const vi = f(f(beta2 * v[i]!) + f(f(omb2 * g) * g));
    m[i] = mi;
    v[i] = vi;
    thetaOut[i] = f(p * keep) - f(f(stepSize * mi) / f(f(f(Math.sqrt(vi)) * invSqrtBc2) + epsilon));
  }
}

function amsgradLoop(
  thetaIn: Float32Array,
  thetaOut: Float32Array,
  grad: Float32Array,
  m: Float32Array,
  v: Float32Array,
  vMax: Float32Array,
  c64: UpdateScalars,
): void {
  const { gradScale, l2, beta1, beta2, omb1, omb2, keep, stepSize, invSqrtBc2, epsilon } =
    float32Scalars(c64);
  const n = thetaIn.length;
  for (let i = 0; i < n; i++) {
    const p = thetaIn[i]!;
    const g = f(f(grad[i]! * gradScale) + f(l2 * p));
    const mi = f(f(beta1 * m[i]!) + f(omb1 * g));
    const vi = f(f(beta2 * v[i]!) + f(f(omb2 * g) * g));
    const vm = Math.max(vMax[i]!, vi);
    m[i] = mi;
    v[i] = vi;
    vMax[i] = vm;
    thetaOut[i] = f(p * keep) - f(f(stepSize * mi) / f(f(f(Math.sqrt(vm)) * invSqrtBc2) + epsilon));
  }
}
