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

// θ_out = keep·θ_in − step_size·m/(√v·inv_sqrt_bc2 + ε) after m, v (and v_max when non-null)
// advance with g = grad_scale·grad + l2·θ_in. θ_in and θ_out may be the same array.
void adam_update(const float* theta_in, float* theta_out, const float* grad, float* m, float* v,
                 float* v_max, std::size_t n, const AdamUpdateScalars& c);

// cache = θ; θ = a·θ − scale·m/(√v·inv_sqrt_bc2 + ε).
void adam_predict(float* theta, float* cache, const float* m, const float* v, std::size_t n,
                  double a, double scale, double inv_sqrt_bc2, double epsilon);

}  // namespace wp
