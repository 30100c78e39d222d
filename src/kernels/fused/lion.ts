import type { LionRuleOptions } from '../../rules/lion.js';
import type { FusedKernels } from '../../prediction/fused/types.js';

/**
 * Lion (`rules/lion.ts`) as single-pass loops in float32 arithmetic: per element of an update it
 * reads θ, g, m once and writes θ, m once (plus θ̂ = a·θ − b·sign(m) when it also prepares the next
 * step's prediction). The native addon runs the same arithmetic in C++ on all cores
 * (native/optimizers.cc, bit-identical).
 */
export function lionFusedKernels(o: LionRuleOptions): FusedKernels {
  const js: FusedKernels['js'] = {
    predict(theta, predicted, state, { a, b }) {
      predictLoop(theta, predicted, state[0]!, a, b);
    },
    update(theta, grad, gradScale, state, { learningRate: lr, weightDecay: wd }, next) {
      updateLoop(
        theta,
        grad,
        state[0]!,
        gradScale,
        1 - lr * wd,
        lr,
        o.beta1,
        o.beta2,
        next?.predicted ?? null,
        next?.a ?? 0,
        next?.b ?? 0,
      );
    },
  };
  return {
    js,
    native: (addon) => ({
      predict(theta, predicted, state, { a, b }) {
        addon.lionPredict(theta, predicted, state[0]!, a, b);
      },
      update(theta, grad, gradScale, state, { learningRate: lr, weightDecay: wd }, next) {
        addon.lionUpdate(
          theta,
          grad,
          state[0]!,
          next?.predicted ?? null,
          gradScale,
          1 - lr * wd,
          lr,
          o.beta1,
          o.beta2,
          next?.a ?? 0,
          next?.b ?? 0,
        );
      },
    }),
  };
}

// Every operation rounded to float32 with Math.fround, as in fused/adam.ts.
const f = Math.fround;

function predictLoop(
  theta: Float32Array,
  predicted: Float32Array,
  m: Float32Array,
  a64: number,
  b64: number,
): void {
  const a = f(a64);
  const b = f(b64);
  const n = theta.length;
  for (let i = 0; i < n; i++) predicted[i] = f(f(a * theta[i]!) - f(b * Math.sign(m[i]!)));
}

function updateLoop(
  theta: Float32Array,
  grad: Float32Array,
  m: Float32Array,
  gradScale64: number,
  keep64: number,
  lr64: number,
  beta164: number,
  beta264: number,
  predicted: Float32Array | null,
  a64: number,
  b64: number,
): void {
  const gradScale = f(gradScale64);
  const keep = f(keep64);
  const lr = f(lr64);
  const beta1 = f(beta164);
  const beta2 = f(beta264);
  const omb1 = f(1 - beta164);
  const omb2 = f(1 - beta264);
  const a = f(a64);
  const b = f(b64);
  const n = theta.length;
  for (let i = 0; i < n; i++) {
    const g = f(grad[i]! * gradScale);
    const mi = m[i]!;
    const direction = Math.sign(f(f(beta1 * mi) + f(omb1 * g)));
    const next = f(f(theta[i]! * keep) - f(lr * direction));
    const mNext = f(f(beta2 * mi) + f(omb2 * g));
    theta[i] = next;
    m[i] = mNext;
    if (predicted !== null) predicted[i] = f(f(a * next) - f(b * Math.sign(mNext)));
  }
}
