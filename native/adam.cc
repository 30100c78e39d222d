#include "adam.h"

#include <cmath>

#include "pool.h"

namespace wp {
namespace {

// Below this many elements per thread, waking a thread costs more than it saves.
constexpr std::size_t kGrain = 1 << 15;

// One pass over [lo, hi); with AMSGrad the step uses the running maximum of v (kept in v_max).
template <bool kAmsgrad>
void update_range(const float* theta_in, float* theta_out, const float* __restrict grad,
                  float* __restrict m, float* __restrict v, float* __restrict v_max,
                  std::size_t lo, std::size_t hi, const AdamUpdateScalars& c) {
  const double gs = c.grad_scale, l2 = c.l2, b1 = c.beta1, b2 = c.beta2, keep = c.keep;
  const double lr = c.step_size, ib = c.inv_sqrt_bc2, eps = c.epsilon;
  const double omb1 = 1 - b1, omb2 = 1 - b2;
  for (std::size_t i = lo; i < hi; i++) {
    const double p = theta_in[i];
    const double g = grad[i] * gs + l2 * p;
    const double mi = b1 * m[i] + omb1 * g;
    const double vi = b2 * v[i] + omb2 * g * g;
    m[i] = static_cast<float>(mi);
    v[i] = static_cast<float>(vi);
    double denominator_v = vi;
    if constexpr (kAmsgrad) {
      const double prev = v_max[i];
      // Math.max semantics: NaN wins.
      denominator_v = (std::isnan(prev) || std::isnan(vi)) ? NAN : (prev > vi ? prev : vi);
      v_max[i] = static_cast<float>(denominator_v);
    }
    const double shrunk = static_cast<float>(p * keep);
    theta_out[i] = static_cast<float>(shrunk - (lr * mi) / (std::sqrt(denominator_v) * ib + eps));
  }
}

}  // namespace

void adam_update(const float* theta_in, float* theta_out, const float* grad, float* m, float* v,
                 float* v_max, std::size_t n, const AdamUpdateScalars& c) {
  parallel_for(n, kGrain, [&](std::size_t lo, std::size_t hi) {
    if (v_max != nullptr) {
      update_range<true>(theta_in, theta_out, grad, m, v, v_max, lo, hi, c);
    } else {
      update_range<false>(theta_in, theta_out, grad, m, v, nullptr, lo, hi, c);
    }
  });
}

void adam_predict(float* theta, float* cache, const float* m, const float* v, std::size_t n,
                  double a, double scale, double inv_sqrt_bc2, double epsilon) {
  parallel_for(n, kGrain, [&](std::size_t lo, std::size_t hi) {
    for (std::size_t i = lo; i < hi; i++) {
      const double t = theta[i];
      cache[i] = theta[i];
      theta[i] = static_cast<float>(a * t - (scale * m[i]) / (std::sqrt(v[i]) * inv_sqrt_bc2 +
                                                               epsilon));
    }
  });
}

}  // namespace wp
