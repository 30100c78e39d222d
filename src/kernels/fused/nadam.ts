import { NAdamMomentum, type NAdamRuleOptions } from '../../rules/nadam.js';
import type { FusedKernels, PredictionScalars } from '../../prediction/fused/types.js';
import type { UpdateContext } from '../../rules/types.js';

/**
 * NAdam (`rules/nadam.ts`) as single-pass loops in float32 arithmetic: per element of an update it
 * reads θ, g, m, v once and writes θ, m, v once (plus θ̂ when it also prepares the next step's
 * prediction). The native addon runs the same arithmetic in C++ on all cores
 * (native/optimizers.cc, bit-identical).
 */
export function nadamFusedKernels(o: NAdamRuleOptions): FusedKernels {
  const { beta1, beta2, epsilon, decoupledWeightDecay } = o;
  const momentum = new NAdamMomentum(beta1, o.momentumDecay);
  // θ̂ = a·θ − b·[(1−μ_t)/(1−Π_t) + μ_{t+1}/(1−Π_t·μ_{t+1})]·m/(√(v/(1−β2^t)) + ε).
  const predictScalars = ({ a, b, completed }: PredictionScalars) => {
    const c = momentum.coefficients(completed);
    return { a, scale: b * (c.onGrad + c.onMomentum), bc2: 1 - beta2 ** completed };
  };
  const updateScalars = (
    gradScale: number,
    { step, learningRate: lr, weightDecay: wd }: UpdateContext,
  ): UpdateScalars => {
    const c = momentum.coefficients(step);
    return {
      gradScale,
      l2: decoupledWeightDecay ? 0 : wd,
      keep: decoupledWeightDecay ? 1 - lr * wd : 1,
      beta1,
      beta2,
      bc2: 1 - beta2 ** step,
      epsilon,
      onGrad: lr * c.onGrad,
      onMomentum: lr * c.onMomentum,
    };
  };
  const noPrediction = { a: 0, scale: 0, bc2: 1 };
  return {
    js: {
      predict(theta, predicted, state, p) {
        const s = predictScalars(p);
        predictLoop(theta, predicted, state[0]!, state[1]!, s.a, s.scale, s.bc2, epsilon);
      },
      update(theta, grad, gradScale, state, ctx, next) {
        const c = updateScalars(gradScale, ctx);
        const p = next ? predictScalars(next) : noPrediction;
        updateLoop(theta, grad, state[0]!, state[1]!, c, next?.predicted ?? null, p);
      },
    },
    native: (addon) => ({
      predict(theta, predicted, state, p) {
        const s = predictScalars(p);
        addon.nadamPredict(theta, predicted, state[0]!, state[1]!, epsilon, s.a, s.scale, s.bc2);
      },
      update(theta, grad, gradScale, state, ctx, next) {
        const c = updateScalars(gradScale, ctx);
        const p = next ? predictScalars(next) : noPrediction;
        addon.nadamUpdate(
          theta,
          grad,
          state[0]!,
          state[1]!,
          next?.predicted ?? null,
          c.gradScale,
          c.l2,
          c.keep,
          beta1,
          beta2,
          c.bc2,
          epsilon,
          c.onGrad,
          c.onMomentum,
          p.a,
          p.scale,
          p.bc2,
        );
      },
    }),
  };
}

interface UpdateScalars {
  gradScale: number;
  l2: number;
  keep: number;
  beta1: number;
  beta2: number;
  bc2: number;
  epsilon: number;
  onGrad: number;
  onMomentum: number;
}

// Every operation rounded to float32 with Math.fround, as in fused/adam.ts; top-level loops with
// every scalar in a local.
const f = Math.fround;

function predictLoop(
  theta: Float32Array,
  predicted: Float32Array,
  m: Float32Array,
  v: Float32Array,
  a64: number,
  scale64: number,
  bc264: number,
  epsilon64: number,
): void {
  const a = f(a64);
  const scale = f(scale64);
  const bc2 = f(bc264);
  const epsilon = f(epsilon64);
  const n = theta.length;
  for (let i = 0; i < n; i++) {
    const d = f(f(Math.sqrt(f(v[i]! / bc2))) + epsilon);
    predicted[i] = f(f(a * theta[i]!) - f(f(scale * m[i]!) / d));
  }
}

function updateLoop(
  theta: Float32Array,
  grad: Float32Array,
  m: Float32Array,
  v: Float32Array,
  c: UpdateScalars,
  predicted: Float32Array | null,
  p: { a: number; scale: number; bc2: number },
): void {
  const gradScale = f(c.gradScale);
  const l2 = f(c.l2);
  const keep = f(c.keep);
  const beta1 = f(c.beta1);
  const beta2 = f(c.beta2);
  const omb1 = f(1 - c.beta1);
  const omb2 = f(1 - c.beta2);
  const bc2 = f(c.bc2);
  const epsilon = f(c.epsilon);
  const onGrad = f(c.onGrad);
  const onMomentum = f(c.onMomentum);
  const pa = f(p.a);
  const pScale = f(p.scale);
  const pBc2 = f(p.bc2);
  const n = theta.length;
  for (let i = 0; i < n; i++) {
    const t = theta[i]!;
    const g = f(f(grad[i]! * gradScale) + f(l2 * t));
    const mi = f(f(beta1 * m[i]!) + f(omb1 * g));
    const vi = f(f(beta2 * v[i]!) + f(f(omb2 * g) * g));
    m[i] = mi;
    v[i] = vi;
    const d = f(f(Math.sqrt(f(vi / bc2))) + epsilon);
    const next = f(f(f(t * keep) - f(f(onGrad * g) / d)) - f(f(onMomentum * mi) / d));
    theta[i] = next;
    if (predicted !== null) {
      const dp = f(f(Math.sqrt(f(vi / pBc2))) + epsilon);
      predicted[i] = f(f(pa * next) - f(f(pScale * mi) / dp));
    }
  }
}
