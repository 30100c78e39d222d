import type { FusedKernels, PredictionScalars } from '../../prediction/fused/types.js';
import type { AdaBeliefRuleOptions } from '../../rules/adabelief.js';
import type { UpdateContext } from '../../rules/types.js';

/**
 * AdaBelief (`rules/adabelief.ts`) as single-pass loops in float32 arithmetic, each operation
 * rounded as the tf-ops rule's float32 tensors round it. Per element of an update it reads θ, g,
 * m, s (and sMax) once and writes them once; with `next` the same pass writes the next
 * θ̂ = a·θ − b·Δθ with Δθ = m / (√s / √bc2(t) + ε) / bc1(t) (s, never sMax). The native addon
 * runs the same arithmetic in C++ on all cores (native/optimizers.cc, bit-identical).
 */
export function adaBeliefFusedKernels(o: AdaBeliefRuleOptions): FusedKernels {
  return {
    js: {
      predict(theta, predicted, state, p) {
        predictLoop(theta, predicted, state[0]!, state[1]!, o, p);
      },
      update(theta, grad, gradScale, state, ctx, next) {
        const sMax = o.amsgrad ? state[2]! : null;
        updateLoop(theta, grad, gradScale, state[0]!, state[1]!, sMax, ctx, o, next ?? null);
      },
    },
    native: (addon) => ({
      predict(theta, predicted, state, p) {
        const { sqrtBc2, bc1 } = directionScalars(o, p.completed);
        addon.adaBeliefPredict(
          theta,
          predicted,
          state[0]!,
          state[1]!,
          o.epsilon,
          p.a,
          p.b,
          sqrtBc2,
          bc1,
        );
      },
      update(theta, grad, gradScale, state, ctx, next) {
        const c = updateScalars(o, ctx);
        const p = directionScalars(o, next?.completed ?? 1);
        addon.adaBeliefUpdate(
          theta,
          grad,
          state[0]!,
          state[1]!,
          o.amsgrad ? state[2]! : null,
          next?.predicted ?? null,
          gradScale,
          c.l2,
          c.keep,
          c.decoupled,
          o.beta1,
          o.beta2,
          o.epsilon,
          c.sqrtBc2,
          c.stepSize,
          next?.a ?? 0,
          next?.b ?? 0,
          p.sqrtBc2,
          p.bc1,
        );
      },
    }),
  };
}

const f = Math.fround;

/** The float32 scalars of Δθ after `completed` updates: √bc2 and bc1. */
function directionScalars(o: AdaBeliefRuleOptions, completed: number) {
  return {
    sqrtBc2: f(Math.sqrt(1 - o.beta2 ** completed)),
    bc1: f(1 - o.beta1 ** completed),
  };
}

/** The update's scalars (the float32 ones rounded by whichever loop runs). */
function updateScalars(
  o: AdaBeliefRuleOptions,
  { step, learningRate, weightDecay }: UpdateContext,
) {
  return {
    decoupled: o.decoupledWeightDecay && weightDecay !== 0,
    l2: o.decoupledWeightDecay ? 0 : weightDecay,
    keep: 1 - learningRate * weightDecay,
    sqrtBc2: Math.sqrt(1 - o.beta2 ** step),
    stepSize: learningRate / (1 - o.beta1 ** step),
  };
}

function predictLoop(
  theta: Float32Array,
  predicted: Float32Array,
  m: Float32Array,
  s: Float32Array,
  o: AdaBeliefRuleOptions,
  p: PredictionScalars,
): void {
  const a = f(p.a);
  const b = f(p.b);
  const epsilon = f(o.epsilon);
  const { sqrtBc2, bc1 } = directionScalars(o, p.completed);
  const n = theta.length;
  for (let i = 0; i < n; i++) {
    const ratio = f(m[i]! / f(f(f(Math.sqrt(s[i]!)) / sqrtBc2) + epsilon));
    predicted[i] = f(a * theta[i]!) - f(b * f(ratio / bc1));
  }
}

function updateLoop(
  theta: Float32Array,
  grad: Float32Array,
  gradScale64: number,
  m: Float32Array,
  s: Float32Array,
  sMax: Float32Array | null,
  ctx: UpdateContext,
  o: AdaBeliefRuleOptions,
  next: (PredictionScalars & { predicted: Float32Array }) | null,
): void {
  const c = updateScalars(o, ctx);
  const decoupled = c.decoupled;
  const gradScale = f(gradScale64);
  const l2 = f(c.l2);
  const keep = f(c.keep);
  const beta1 = f(o.beta1);
  const beta2 = f(o.beta2);
  const oneMinusBeta1 = f(1 - o.beta1);
  const oneMinusBeta2 = f(1 - o.beta2);
  const epsilon = f(o.epsilon);
  const sqrtBc2 = f(c.sqrtBc2);
  const stepSize = f(c.stepSize);
  const predicted = next?.predicted ?? null;
  const pa = f(next?.a ?? 0);
  const pb = f(next?.b ?? 0);
  const pScalars = directionScalars(o, next?.completed ?? 1);
  const n = theta.length;
  for (let i = 0; i < n; i++) {
    const t = theta[i]!;
    const decayed = decoupled ? f(t * keep) : t;
    const g = f(f(grad[i]! * gradScale) + f(l2 * t));
    const mi = f(f(m[i]! * beta1) + f(g * oneMinusBeta1));
    const diff = f(g - mi);
    const si = f(f(f(s[i]! * beta2) + f(f(diff * diff) * oneMinusBeta2)) + epsilon);
    m[i] = mi;
    s[i] = si;
    let second = si;
    if (sMax !== null) {
      second = Math.max(sMax[i]!, si);
      sMax[i] = second;
    }
    const ratio = f(mi / f(f(f(Math.sqrt(second)) / sqrtBc2) + epsilon));
    const updated = f(decayed - f(ratio * stepSize));
    theta[i] = updated;
    if (predicted !== null) {
      const r = f(mi / f(f(f(Math.sqrt(si)) / pScalars.sqrtBc2) + epsilon));
      predicted[i] = f(pa * updated) - f(pb * f(r / pScalars.bc1));
    }
  }
}
