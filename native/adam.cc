#include "adam.h"

#include <cmath>

#include "pool.h"

namespace wp {
namespace {

// Below this many elements per thread, waking a thread costs more than it saves.
constexpr std::size_t kGrain = 1 << 15;

// One pass over [lo, hi); with AMSGrad the step uses the running maximum of v (kept in v_max).
// Float32 arithmetic, operation for operation as the JS loops' Math.fround chain (and PyTorch's
// float32 step); float64 sqrt and division ran 3–4× slower and bound the loop by compute.
// kInPlace (θ_in is θ_out) reads and writes through one pointer: with two, the compiler must
// assume they may overlap, and its run-time overlap check sends the in-place case (a step without
// prediction) to the scalar loop.
template <bool kAmsgrad, bool kInPlace>
void update_range(const float* theta_in, float* theta_out, const float* __restrict grad,
                  float* __restrict m, float* __restrict v, float* __restrict v_max,
                  std::size_t lo, std::size_t hi, const AdamUpdateScalars& c) {
  const float* source = kInPlace ? theta_out : theta_in;
  const float gs = static_cast<float>(c.grad_scale), l2 = static_cast<float>(c.l2);
  const float b1 = static_cast<float>(c.beta1), b2 = static_cast<float>(c.beta2);
  const float omb1 = static_cast<float>(1 - c.beta1), omb2 = static_cast<float>(1 - c.beta2);
  const float keep = static_cast<float>(c.keep), lr = static_cast<float>(c.step_size);
  const float ib = static_cast<float>(c.inv_sqrt_bc2), eps = static_cast<float>(c.epsilon);
  for (std::size_t i = lo; i < hi; i++) {
    const float p = source[i];
    const float g = grad[i] * gs + l2 * p;
    const float mi = b1 * m[i] + omb1 * g;
    const float vi = b2 * v[i] + omb2 * g * g;
    m[i] = mi;
    v[i] = vi;
    float denominator_v = vi;
    if constexpr (kAmsgrad) {
      const float prev = v_max[i];
      // Math.max semantics: NaN wins.
      denominator_v = (std::isnan(prev) || std::isnan(vi)) ? NAN : (prev > vi ? prev : vi);
      v_max[i] = denominator_v;
    }
    theta_out[i] = p * keep - (lr * mi) / (std::sqrt(denominator_v) * ib + eps);
  }
}

// A function of its own, with restrict pointers, so that the loop vectorises (inside the lambda
// it read the captured pointers through references and stayed scalar).
void predict_range(float* __restrict theta, float* __restrict cache, const float* __restrict m,
                   const float* __restrict v, std::size_t lo, std::size_t hi, float a, float scale,
                   float inv_sqrt_bc2, float epsilon) {
  for (std::size_t i = lo; i < hi; i++) {
    const float t = theta[i];
    cache[i] = t;
    theta[i] = a * t - (scale * m[i]) / (std::sqrt(v[i]) * inv_sqrt_bc2 + epsilon);
  }
}

}  // namespace

void adam_update(const float* theta_in, float* theta_out, const float* grad, float* m, float* v,
                 float* v_max, std::size_t n, const AdamUpdateScalars& c) {
  parallel_for(n, kGrain, [&](std::size_t lo, std::size_t hi) {
    const bool in_place = theta_in == theta_out;
    if (v_max != nullptr) {
      if (in_place) {
        update_range<true, true>(theta_in, theta_out, grad, m, v, v_max, lo, hi, c);
      } else {
        update_range<true, false>(theta_in, theta_out, grad, m, v, v_max, lo, hi, c);
      }
    } else if (in_place) {
      update_range<false, true>(theta_in, theta_out, grad, m, v, nullptr, lo, hi, c);
    } else {
      update_range<false, false>(theta_in, theta_out, grad, m, v, nullptr, lo, hi, c);
    }
  });
}

void adam_predict(float* theta, float* cache, const float* m, const float* v, std::size_t n,
                  double a, double scale, double inv_sqrt_bc2, double epsilon) {
  const float af = static_cast<float>(a), sf = static_cast<float>(scale);
  const float ib = static_cast<float>(inv_sqrt_bc2), eps = static_cast<float>(epsilon);
  parallel_for(n, kGrain, [&](std::size_t lo, std::size_t hi) {
    predict_range(theta, cache, m, v, lo, hi, af, sf, ib, eps);
  });
}

}  // namespace wp
