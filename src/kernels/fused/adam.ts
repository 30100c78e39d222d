import type {
  FusedKernels,
  FusedRuleKernel,
  PredictionScalars,
} from '../../prediction/fused/types.js';
import type { AdamRuleOptions } from '../../rules/adam.js';
import type { UpdateContext } from '../../rules/types.js';
import { simdKernels } from '../simd/index.js';

/**
 * Adam / AdamW (`rules/adam.ts`) as single-pass loops in float32 arithmetic. Per element of an
 * update it reads θ, g, m, v (and vMax) once and writes θ, m, v (and vMax) once: 28 bytes (36 with
 * AMSGrad), plus 4 when it also writes the next step's θ̂, instead of a pass and a fresh tensor per
 * tf op. The native addon runs the same arithmetic in C++ on all cores (native/adam.cc), and the
 * wasm backend in WebAssembly SIMD on its own heap (wasm/steps.c), both bit-identical;
 * src/prediction/step.ts picks which runs.
 */
export function adamFusedKernels(o: AdamRuleOptions): FusedKernels {
  const { beta1, beta2, epsilon, amsgrad, decoupledWeightDecay } = o;
  // θ̂ = a·θ − b·m̂/(√v̂ + ε), with m̂ = m/bc1 and √v̂ = √v/√bc2 (v, never vMax).
  const predictScalars = ({ a, b, completed }: PredictionScalars) => ({
    a,
    scale: b / (1 - beta1 ** completed),
    invSqrtBc2: 1 / Math.sqrt(1 - beta2 ** completed),
    epsilon,
  });
  // AdamW shrinks θ by (1 − ηλ) before the step; Adam adds λθ to the gradient. Like the tf-ops
  // rule and PyTorch's float32 step, the loops compute in float32 throughout.
  const updateScalars = (
    gradScale: number,
    { step, learningRate: lr, weightDecay: wd }: UpdateContext,
  ): UpdateScalars => ({
    gradScale,
    l2: decoupledWeightDecay ? 0 : wd,
    beta1,
    beta2,
    keep: Math.fround(decoupledWeightDecay ? 1 - lr * wd : 1),
    stepSize: lr / (1 - beta1 ** step),
    invSqrtBc2: 1 / Math.sqrt(1 - beta2 ** step),
    epsilon,
  });
  const noPrediction = { a: 0, scale: 0, invSqrtBc2: 0, epsilon };
  const js: FusedRuleKernel = {
    predict(theta, predicted, state, p) {
      const s = predictScalars(p);
      predictLoop(theta, predicted, state[0]!, state[1]!, s.a, s.scale, s.invSqrtBc2, s.epsilon);
    },
    update(theta, grad, gradScale, state, ctx, next) {
      const c = updateScalars(gradScale, ctx);
      const p = next ? predictScalars(next) : noPrediction;
      const [m, v, vMax] = state as [Float32Array, Float32Array, Float32Array?];
      updateLoop(theta, grad, m, v, amsgrad ? vMax! : null, c, next?.predicted ?? null, p);
    },
  };
  return {
    js,
    simd: simdKernels((steps, inHeap) => ({
      predict(theta, predicted, state, p) {
        const [m, v] = state as [Float32Array, Float32Array];
        if (!inHeap(theta, predicted, m, v)) return js.predict(theta, predicted, state, p);
        const s = predictScalars(p);
        steps.adam_predict(
          theta.byteOffset,
          predicted.byteOffset,
          m.byteOffset,
          v.byteOffset,
          theta.length,
          s.a,
          s.scale,
          s.invSqrtBc2,
          s.epsilon,
        );
      },
      update(theta, grad, gradScale, state, ctx, next) {
        const [m, v, vMax] = state as [Float32Array, Float32Array, Float32Array?];
        const max = amsgrad ? vMax! : null;
        const predicted = next?.predicted ?? null;
        if (!inHeap(theta, grad, m, v, max, predicted)) {
          return js.update(theta, grad, gradScale, state, ctx, next);
        }
        const c = updateScalars(gradScale, ctx);
        const p = next ? predictScalars(next) : noPrediction;
        // The module takes float32 scalars: each argument is rounded as Math.fround rounds it.
        steps.adam_update(
          theta.byteOffset,
          grad.byteOffset,
          m.byteOffset,
          v.byteOffset,
          max === null ? 0 : max.byteOffset,
          predicted === null ? 0 : predicted.byteOffset,
          theta.length,
          c.gradScale,
          c.l2,
          c.beta1,
          c.beta2,
          1 - c.beta1,
          1 - c.beta2,
          c.keep,
          c.stepSize,
          c.invSqrtBc2,
          c.epsilon,
          p.a,
          p.scale,
          p.invSqrtBc2,
        );
      },
    })),
    native: (addon) => ({
      predict(theta, predicted, state, p) {
        const s = predictScalars(p);
        addon.adamPredict(
          theta,
          predicted,
          state[0]!,
          state[1]!,
          s.a,
          s.scale,
          s.invSqrtBc2,
          s.epsilon,
        );
      },
      update(theta, grad, gradScale, state, ctx, next) {
        const c = updateScalars(gradScale, ctx);
        const p = next ? predictScalars(next) : noPrediction;
        const [m, v, vMax] = state as [Float32Array, Float32Array, Float32Array?];
        addon.adamUpdate(
          theta,
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
          next?.predicted ?? null,
          p.a,
          p.scale,
          p.invSqrtBc2,
        );
      },
    }),
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
  predicted: Float32Array,
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
    predicted[i] =
      f(a * theta[i]!) - f(f(scale * m[i]!) / f(f(f(Math.sqrt(v[i]!)) * invSqrtBc2) + epsilon));
  }
}

/** One in-place update; with AMSGrad (vMax non-null) the step divides by √max(vMax, v). */
function updateLoop(
  theta: Float32Array,
  grad: Float32Array,
  m: Float32Array,
  v: Float32Array,
  vMax: Float32Array | null,
  c: UpdateScalars,
  predicted: Float32Array | null,
  p: { a: number; scale: number; invSqrtBc2: number; epsilon: number },
): void {
  const gradScale = f(c.gradScale);
  const l2 = f(c.l2);
  const beta1 = f(c.beta1);
  const beta2 = f(c.beta2);
  const omb1 = f(1 - c.beta1);
  const omb2 = f(1 - c.beta2);
  const keep = f(c.keep);
  const stepSize = f(c.stepSize);
  const invSqrtBc2 = f(c.invSqrtBc2);
  const epsilon = f(c.epsilon);
  const pa = f(p.a);
  const pScale = f(p.scale);
  const pInvSqrtBc2 = f(p.invSqrtBc2);
  const n = theta.length;
  for (let i = 0; i < n; i++) {
    const t = theta[i]!;
    const g = f(f(grad[i]! * gradScale) + f(l2 * t));
    const mi = f(f(beta1 * m[i]!) + f(omb1 * g));
    const vi = f(f(beta2 * v[i]!) + f(f(omb2 * g) * g));
    m[i] = mi;
    v[i] = vi;
    let denominatorV = vi;
    if (vMax !== null) {
      denominatorV = Math.max(vMax[i]!, vi);
      vMax[i] = denominatorV;
    }
    const next = f(
      f(t * keep) - f(f(stepSize * mi) / f(f(f(Math.sqrt(denominatorV)) * invSqrtBc2) + epsilon)),
    );
    theta[i] = next;
    if (predicted !== null) {
      predicted[i] =
        f(pa * next) - f(f(pScale * mi) / f(f(f(Math.sqrt(vi)) * pInvSqrtBc2) + epsilon));
    }
  }
}
