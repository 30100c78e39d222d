// Adam / AdamW with weight prediction as single passes over float32 arrays. The arithmetic is
// the same, operation by operation, as the JS loops in src/kernels/fused/adam.ts (float32, no
// fused multiply-add; the JS rounds each operation with Math.fround), so both give bit-identical
// results. The double-valued scalars are rounded to float32 first, on both sides.
#pragma once
#include <cstddef>

namespace wp {

struct AdamUpdateScalars {
  double grad_scale, l2, beta1, beta2, keep, step_size, inv_sqrt_bc2, epsilon;
};

// θ̂ = a·θ − scale·m/(√v·inv_sqrt_bc2 + ε): the prediction's scalars.
struct AdamPredictScalars {
  double a, scale, inv_sqrt_bc2, epsilon;
};

// In place: m, v (and v_max when non-null) advance with g = grad_scale·grad + l2·θ, then
// θ = keep·θ − step_size·m/(√v·inv_sqrt_bc2 + ε). When `predicted` is non-null it also receives
// θ̂ of the next step from the new θ, m, v (what adam_predict would write from them); it may be
// `grad` itself, whose values are then read before θ̂ replaces them. No other arrays may overlap.
void adam_update(float* theta, const float* grad, float* m, float* v, float* v_max,
                 float* predicted, std::size_t n, const AdamUpdateScalars& c,
                 const AdamPredictScalars& p);

// predicted = a·θ − scale·m/(√v·inv_sqrt_bc2 + ε); θ, m, v are only read.
void adam_predict(const float* theta, float* predicted, const float* m, const float* v,
                  std::size_t n, const AdamPredictScalars& p);

}  // namespace wp
