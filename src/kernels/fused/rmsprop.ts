import type { FusedKernels, PredictionScalars } from '../../prediction/fused/types.js';
import type { RmspropRuleOptions } from '../../rules/rmsprop.js';
import type { UpdateContext } from '../../rules/types.js';

/**
 * RMSprop (`rules/rmsprop.ts`: PyTorch's, with centring, momentum and L2 weight decay) as
 * single-pass loops in float32 arithmetic, each operation rounded as the tf-ops rule's float32
 * tensors round it. Slots in the rule's order: v, then ḡ (centred), then the momentum buffer or
 * the last gradient kept for prediction. Δθ for prediction: the momentum buffer, else
 * g_last / (√(v − ḡ²) + ε) from the current state. The native addon runs the same arithmetic in
 * C++ on all cores (native/optimizers.cc, bit-identical).
 */
export function rmspropFusedKernels(o: RmspropRuleOptions): FusedKernels {
  const layout = slotLayout(o);
  return {
    js: {
      predict(theta, predicted, state, p) {
        predictLoop(theta, predicted, state, layout, o, p);
      },
      update(theta, grad, gradScale, state, ctx, next) {
        updateLoop(theta, grad, gradScale, state, layout, ctx, o, next ?? null);
      },
    },
    native: (addon) => {
      const slot = (state: readonly Float32Array[], k: number) => (k >= 0 ? state[k]! : null);
      return {
        predict(theta, predicted, state, { a, b }) {
          addon.rmspropPredict(
            theta,
            predicted,
            state[0]!,
            slot(state, layout.gradAverage),
            state[layout.last]!,
            o.momentum !== 0,
            o.epsilon,
            a,
            b,
          );
        },
        update(theta, grad, gradScale, state, ctx, next) {
          addon.rmspropUpdate(
            theta,
            grad,
            state[0]!,
            slot(state, layout.gradAverage),
            slot(state, layout.last),
            next?.predicted ?? null,
            gradScale,
            ctx.weightDecay,
            ctx.learningRate,
            o.alpha,
            o.epsilon,
            o.momentum,
            next?.a ?? 0,
            next?.b ?? 0,
          );
        },
      };
    },
  };
}

interface SlotLayout {
  gradAverage: number;
  /** The momentum buffer or the last gradient (−1: neither). */
  last: number;
}

function slotLayout(o: RmspropRuleOptions): SlotLayout {
  let k = 1;
  const gradAverage = o.centered ? k++ : -1;
  const last = o.momentum !== 0 || o.keepLastGradient ? k++ : -1;
  return { gradAverage, last };
}

const f = Math.fround;

/** f(√(v − ḡ²) + ε) (ḡ absent: √v + ε), as the rule's `denominator`. */
function denominator(v: number, gAvg: number | null, epsilon: number): number {
  const centred = gAvg === null ? v : f(v - f(gAvg * gAvg));
  return f(f(Math.sqrt(centred)) + epsilon);
}

function predictLoop(
  theta: Float32Array,
  predicted: Float32Array,
  state: readonly Float32Array[],
  layout: SlotLayout,
  o: RmspropRuleOptions,
  p: PredictionScalars,
): void {
  const a = f(p.a);
  const b = f(p.b);
  const epsilon = f(o.epsilon);
  const v = state[0]!;
  const gAvg = layout.gradAverage >= 0 ? state[layout.gradAverage]! : null;
  const last = state[layout.last]!;
  const momentum = o.momentum !== 0;
  const n = theta.length;
  for (let i = 0; i < n; i++) {
    const d = momentum
      ? last[i]!
      : f(last[i]! / denominator(v[i]!, gAvg ? gAvg[i]! : null, epsilon));
    predicted[i] = f(a * theta[i]!) - f(b * d);
  }
}

function updateLoop(
  theta: Float32Array,
  grad: Float32Array,
  gradScale64: number,
  state: readonly Float32Array[],
  layout: SlotLayout,
  ctx: UpdateContext,
  o: RmspropRuleOptions,
  next: (PredictionScalars & { predicted: Float32Array }) | null,
): void {
  const gradScale = f(gradScale64);
  const l2 = f(ctx.weightDecay);
  const lr = f(ctx.learningRate);
  const alpha = f(o.alpha);
  const oneMinusAlpha = f(1 - o.alpha);
  const epsilon = f(o.epsilon);
  const momentum = f(o.momentum);
  const useMomentum = o.momentum !== 0;
  const v = state[0]!;
  const gAvg = layout.gradAverage >= 0 ? state[layout.gradAverage]! : null;
  const last = layout.last >= 0 ? state[layout.last]! : null;
  const predicted = next?.predicted ?? null;
  const pa = f(next?.a ?? 0);
  const pb = f(next?.b ?? 0);
  const n = theta.length;
  for (let i = 0; i < n; i++) {
    const t = theta[i]!;
    const g = f(f(grad[i]! * gradScale) + f(l2 * t));
    const vi = f(f(v[i]! * alpha) + f(f(g * g) * oneMinusAlpha));
    v[i] = vi;
    let gAvgI: number | null = null;
    if (gAvg !== null) {
      gAvgI = f(f(gAvg[i]! * alpha) + f(g * oneMinusAlpha));
      gAvg[i] = gAvgI;
    }
    const avg = denominator(vi, gAvgI, epsilon);
    let updated: number;
    let direction: number;
    if (useMomentum) {
      const buf = f(f(last![i]! * momentum) + f(g / avg));
      last![i] = buf;
      updated = f(t - f(buf * lr));
      direction = buf;
    } else {
      const step = f(g / avg);
      updated = f(t - f(step * lr));
      if (last !== null) last[i] = g;
      // Δθ from the new state: this gradient over the new denominator.
      direction = step;
    }
    theta[i] = updated;
    if (predicted !== null) predicted[i] = f(pa * updated) - f(pb * direction);
  }
}
