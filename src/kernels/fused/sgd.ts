import type { FusedKernels, PredictionScalars } from '../../prediction/fused/types.js';
import type { SgdRuleOptions } from '../../rules/sgd.js';
import type { UpdateContext } from '../../rules/types.js';

/**
 * SGD (`rules/sgd.ts`: PyTorch's, with momentum, dampening, Nesterov and L2 weight decay) as
 * single-pass loops in float32 arithmetic, each operation rounded as the tf-ops rule's float32
 * tensors round it. Per element of an update it reads θ, g and the one slot (the momentum buffer,
 * or the last gradient kept for prediction) once and writes θ and the slot once; with `next` the
 * same pass writes the next θ̂ = a·θ − b·Δθ, Δθ being that slot. The native addon runs the same
 * arithmetic in C++ on all cores (native/optimizers.cc, bit-identical).
 */
export function sgdFusedKernels(o: SgdRuleOptions): FusedKernels {
  const hasSlot = o.momentum !== 0 || o.keepLastGradient;
  return {
    js: {
      predict(theta, predicted, state, p) {
        predictLoop(theta, predicted, state[0]!, p);
      },
      update(theta, grad, gradScale, state, ctx, next) {
        updateLoop(theta, grad, gradScale, hasSlot ? state[0]! : null, ctx, o, next ?? null);
      },
    },
    native: (addon) => ({
      predict(theta, predicted, state, { a, b }) {
        addon.linearPredict(theta, predicted, state[0]!, a, b);
      },
      update(theta, grad, gradScale, state, ctx, next) {
        addon.sgdUpdate(
          theta,
          grad,
          hasSlot ? state[0]! : null,
          next?.predicted ?? null,
          gradScale,
          ctx.weightDecay,
          ctx.learningRate,
          o.momentum,
          o.dampening,
          o.nesterov,
          ctx.step === 1,
          next?.a ?? 0,
          next?.b ?? 0,
        );
      },
    }),
  };
}

const f = Math.fround;

function predictLoop(
  theta: Float32Array,
  predicted: Float32Array,
  direction: Float32Array,
  p: PredictionScalars,
): void {
  const a = f(p.a);
  const b = f(p.b);
  const n = theta.length;
  for (let i = 0; i < n; i++) predicted[i] = f(a * theta[i]!) - f(b * direction[i]!);
}

function updateLoop(
  theta: Float32Array,
  grad: Float32Array,
  gradScale64: number,
  slot: Float32Array | null,
  ctx: UpdateContext,
  o: SgdRuleOptions,
  next: (PredictionScalars & { predicted: Float32Array }) | null,
): void {
  const gradScale = f(gradScale64);
  const l2 = f(ctx.weightDecay);
  const lr = f(ctx.learningRate);
  const momentum = f(o.momentum);
  const keepGradient = f(1 - o.dampening);
  const first = ctx.step === 1;
  const useMomentum = o.momentum !== 0;
  const nesterov = o.nesterov;
  const predicted = next?.predicted ?? null;
  const pa = f(next?.a ?? 0);
  const pb = f(next?.b ?? 0);
  const n = theta.length;
  for (let i = 0; i < n; i++) {
    const t = theta[i]!;
    const g = f(f(grad[i]! * gradScale) + f(l2 * t));
    let d = g;
    if (useMomentum) {
      const buf = first ? g : f(f(slot![i]! * momentum) + f(g * keepGradient));
      slot![i] = buf;
      d = nesterov ? f(g + f(buf * momentum)) : buf;
    } else if (slot !== null) {
      slot[i] = g;
    }
    const updated = f(t - f(d * lr));
    theta[i] = updated;
    // Δθ is the slot just written: the momentum buffer, or this gradient.
    if (predicted !== null) predicted[i] = f(pa * updated) - f(pb * slot![i]!);
  }
}
