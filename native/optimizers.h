// SGD, RMSprop, AdaBelief, NAdam and Lion with weight prediction as single passes over float32
// arrays: each function is, operation by operation, the JS loop of the same name in
// src/kernels/fused/ (see fused.h), with that file's host-side scalars passed in as doubles and
// rounded to float32 here. Updates run in place; when `predicted` is non-null the same pass writes
// θ̂ of the next step from the new θ and state (what the predict function writes from them), and
// it may be `grad` itself, whose values are then read before θ̂ replaces them. No other arrays
// may overlap.
#pragma once
#include <cstddef>

namespace wp {

// θ̂ = a·θ − b·Δθ: the scalars of every prediction here but NAdam's.
struct LinearPrediction {
  double a, b;
};

// g = grad_scale·grad + l2·θ; with momentum μ ≠ 0: buf = g at the first step, else
// μ·buf + (1 − dampening)·g, and the step's direction is g + μ·buf (Nesterov) or buf; without,
// g (written to `slot` when non-null: the last gradient kept for prediction). θ −= lr·direction;
// Δθ for θ̂ is what `slot` now holds.
struct SgdScalars {
  double grad_scale, l2, learning_rate, momentum, dampening;
  bool nesterov, first_step;
};
void sgd_update(float* theta, const float* grad, float* slot, float* predicted, std::size_t n,
                const SgdScalars& c, const LinearPrediction& p);
// predicted = a·θ − b·direction (SGD's, and RMSprop's with momentum).
void linear_predict(const float* theta, float* predicted, const float* direction, std::size_t n,
                    const LinearPrediction& p);

// v = α·v + (1 − α)·g²; centred (g_avg non-null): ḡ = α·ḡ + (1 − α)·g; d = √(v − ḡ²) + ε.
// With momentum μ ≠ 0 (`last` is the buffer): buf = μ·buf + g/d, θ −= lr·buf, Δθ = buf; without,
// θ −= lr·(g/d), Δθ = g/d, and `last` (when non-null) receives g.
struct RmspropScalars {
  double grad_scale, l2, learning_rate, alpha, epsilon, momentum;
};
void rmsprop_update(float* theta, const float* grad, float* v, float* g_avg, float* last,
                    float* predicted, std::size_t n, const RmspropScalars& c,
                    const LinearPrediction& p);
// Δθ = last with momentum, else last/(√(v − ḡ²) + ε) (ḡ when g_avg is non-null).
void rmsprop_predict(const float* theta, float* predicted, const float* v, const float* g_avg,
                     const float* last, bool momentum, double epsilon, std::size_t n,
                     const LinearPrediction& p);

// m = β1·m + (1 − β1)·g; s = β2·s + (1 − β2)·(g − m)² + ε (s_max = max(s_max, s) when non-null);
// θ = (decoupled ? keep·θ : θ) − step_size·m/(√s_or_max/sqrt_bc2 + ε).
struct AdaBeliefScalars {
  double grad_scale, l2, keep, beta1, beta2, epsilon, sqrt_bc2, step_size;
  bool decoupled;
};
// Δθ = (m/(√s/sqrt_bc2 + ε))/bc1 (s, never s_max).
struct AdaBeliefPrediction {
  double a, b, sqrt_bc2, bc1;
};
void adabelief_update(float* theta, const float* grad, float* m, float* s, float* s_max,
                      float* predicted, std::size_t n, const AdaBeliefScalars& c,
                      const AdaBeliefPrediction& p);
void adabelief_predict(const float* theta, float* predicted, const float* m, const float* s,
                       double epsilon, std::size_t n, const AdaBeliefPrediction& p);

// m, v as Adam's; d = √(v/bc2) + ε; θ = keep·θ − on_grad·g/d − on_momentum·m/d.
struct NAdamScalars {
  double grad_scale, l2, keep, beta1, beta2, bc2, epsilon, on_grad, on_momentum;
};
// θ̂ = a·θ − scale·m/(√(v/bc2) + ε).
struct NAdamPrediction {
  double a, scale, bc2;
};
void nadam_update(float* theta, const float* grad, float* m, float* v, float* predicted,
                  std::size_t n, const NAdamScalars& c, const NAdamPrediction& p);
void nadam_predict(const float* theta, float* predicted, const float* m, const float* v,
                   double epsilon, std::size_t n, const NAdamPrediction& p);

// g = grad_scale·grad; θ = keep·θ − lr·sign(β1·m + (1 − β1)·g); m = β2·m + (1 − β2)·g;
// Δθ = sign(m).
struct LionScalars {
  double grad_scale, keep, learning_rate, beta1, beta2;
};
void lion_update(float* theta, const float* grad, float* m, float* predicted, std::size_t n,
                 const LionScalars& c, const LinearPrediction& p);
void lion_predict(const float* theta, float* predicted, const float* m, std::size_t n,
                  const LinearPrediction& p);

}  // namespace wp
