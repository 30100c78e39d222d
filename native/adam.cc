#include "adam.h"

#include <cmath>

#include "pool.h"

namespace wp {
namespace {

// Below this many elements per thread, waking a thread costs more than it saves.
constexpr std::size_t kGrain = 1 << 15;

struct PredictFloats {
  float a, scale, inv_sqrt_bc2, epsilon;
  explicit PredictFloats(const AdamPredictScalars& p)
      : a(static_cast<float>(p.a)),
        scale(static_cast<float>(p.scale)),
        inv_sqrt_bc2(static_cast<float>(p.inv_sqrt_bc2)),
        epsilon(static_cast<float>(p.epsilon)) {}
};

// The prediction of one element, shared by both passes so that they agree bit for bit.
inline float predicted_value(float theta, float m, float v, const PredictFloats& p) {
  return p.a * theta - (p.scale * m) / (std::sqrt(v) * p.inv_sqrt_bc2 + p.epsilon);
}

// One in-place pass over [lo, hi); with AMSGrad the step uses the running maximum of v (kept in
// v_max). Float32 arithmetic, operation for operation as the JS loops' Math.fround chain (and
// PyTorch's float32 step); float64 sqrt and division ran 3–4× slower and bound the loop by compute.
// Templated on what it writes so that each variant is one branch-free, vectorised loop.
template <bool kAmsgrad, bool kPredict>
void update_range(float* __restrict theta, const float* __restrict grad, float* __restrict m,
                  float* __restrict v, float* __restrict v_max, float* __restrict predicted,
                  std::size_t lo, std::size_t hi, const AdamUpdateScalars& c,
                  const PredictFloats& p) {
  const float gs = static_cast<float>(c.grad_scale), l2 = static_cast<float>(c.l2);
  const float b1 = static_cast<float>(c.beta1), b2 = static_cast<float>(c.beta2);
  const float omb1 = static_cast<float>(1 - c.beta1), omb2 = static_cast<float>(1 - c.beta2);
  const float keep = static_cast<float>(c.keep), lr = static_cast<float>(c.step_size);
  const float ib = static_cast<float>(c.inv_sqrt_bc2), eps = static_cast<float>(c.epsilon);
  for (std::size_t i = lo; i < hi; i++) {
    const float t = theta[i];
    const float g = grad[i] * gs + l2 * t;
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
    const float next = t * keep - (lr * mi) / (std::sqrt(denominator_v) * ib + eps);
    theta[i] = next;
    // The prediction uses v, never v_max.
    if constexpr (kPredict) predicted[i] = predicted_value(next, mi, vi, p);
  }
}

// A function of its own, with restrict pointers, so that the loop vectorises (inside the lambda
// it read the captured pointers through references and stayed scalar).
void predict_range(const float* __restrict theta, float* __restrict predicted,
                   const float* __restrict m, const float* __restrict v, std::size_t lo,
                   std::size_t hi, const PredictFloats& p) {
  for (std::size_t i = lo; i < hi; i++) predicted[i] = predicted_value(theta[i], m[i], v[i], p);
}

}  // namespace

void adam_update(float* theta, const float* grad, float* m, float* v, float* v_max,
                 float* predicted, std::size_t n, const AdamUpdateScalars& c,
                 const AdamPredictScalars& prediction) {
  const PredictFloats p(prediction);
  parallel_for(n, kGrain, [&](std::size_t lo, std::size_t hi) {
    if (v_max != nullptr) {
      if (predicted != nullptr) {
        update_range<true, true>(theta, grad, m, v, v_max, predicted, lo, hi, c, p);
      } else {
        update_range<true, false>(theta, grad, m, v, v_max, nullptr, lo, hi, c, p);
      }
    } else if (predicted != nullptr) {
      update_range<false, true>(theta, grad, m, v, nullptr, predicted, lo, hi, c, p);
    } else {
      update_range<false, false>(theta, grad, m, v, nullptr, nullptr, lo, hi, c, p);
    }
  });
}

void adam_predict(const float* theta, float* predicted, const float* m, const float* v,
                  std::size_t n, const AdamPredictScalars& prediction) {
  const PredictFloats p(prediction);
  parallel_for(n, kGrain,
               [&](std::size_t lo, std::size_t hi) { predict_range(theta, predicted, m, v, lo, hi, p); });
}

}  // namespace wp
