#include "adam.h"

#include <cmath>

#include "fused.h"

namespace wp {
namespace {

using fused::Target;

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
// Templated on what it writes so that each variant is one branch-free, vectorised loop. With
// kOverGrad, `out` holds the gradient on entry and θ̂ on exit (`grad` is unused); with kShareStep
// (see shares_step) θ̂ reuses the update's step term, the same float operations on the same
// operands, instead of a second square root and division.
template <bool kAmsgrad, Target kTarget, bool kShareStep>
void update_range(float* __restrict theta, const float* __restrict grad, float* __restrict m,
                  float* __restrict v, float* __restrict v_max, float* __restrict out,
                  std::size_t lo, std::size_t hi, const AdamUpdateScalars& c,
                  const PredictFloats& p) {
  const float gs = static_cast<float>(c.grad_scale), l2 = static_cast<float>(c.l2);
  const float b1 = static_cast<float>(c.beta1), b2 = static_cast<float>(c.beta2);
  const float omb1 = static_cast<float>(1 - c.beta1), omb2 = static_cast<float>(1 - c.beta2);
  const float keep = static_cast<float>(c.keep), lr = static_cast<float>(c.step_size);
  const float ib = static_cast<float>(c.inv_sqrt_bc2), eps = static_cast<float>(c.epsilon);
  for (std::size_t i = lo; i < hi; i++) {
    const float t = theta[i];
    const float g = fused::gradient_at<kTarget>(grad, out, i) * gs + l2 * t;
    const float mi = b1 * m[i] + omb1 * g;
    const float vi = b2 * v[i] + omb2 * g * g;
    m[i] = mi;
    v[i] = vi;
    float denominator_v = vi;
    if constexpr (kAmsgrad) {
      const float prev = v_max[i];
      denominator_v = fused::js_max(prev, vi);
      v_max[i] = denominator_v;
    }
    const float step = (lr * mi) / (std::sqrt(denominator_v) * ib + eps);
    const float next = t * keep - step;
    theta[i] = next;
    // The prediction uses v, never v_max.
    if constexpr (kTarget != Target::kNone) {
      out[i] = kShareStep ? p.a * next - step : predicted_value(next, mi, vi, p);
    }
  }
}

// True when the prediction's step term (scale·m)/(√v·inv_sqrt_bc2 + ε) is, operand for operand,
// the update's (step_size·m)/(√v·inv_sqrt_bc2 + ε): without AMSGrad, whenever the predicted
// learning-rate sum equals this update's learning rate, as with s = 1 and no decay in θ̂.
bool shares_step(const AdamUpdateScalars& c, const PredictFloats& p, bool amsgrad) {
  return !amsgrad && p.scale == static_cast<float>(c.step_size) &&
         p.inv_sqrt_bc2 == static_cast<float>(c.inv_sqrt_bc2) &&
         p.epsilon == static_cast<float>(c.epsilon);
}

template <bool kAmsgrad, Target kTarget, bool kShareStep>
void update_parallel(float* theta, const float* grad, float* m, float* v, float* v_max, float* out,
                     std::size_t n, const AdamUpdateScalars& c, const PredictFloats& p) {
  fused::parallel(n, [&](std::size_t lo, std::size_t hi) {
    update_range<kAmsgrad, kTarget, kShareStep>(theta, grad, m, v, v_max, out, lo, hi, c, p);
  });
}

template <Target kTarget>
void update_with_target(float* theta, const float* grad, float* m, float* v, float* v_max,
                        float* out, std::size_t n, const AdamUpdateScalars& c,
                        const PredictFloats& p) {
  if (v_max != nullptr) {
    update_parallel<true, kTarget, false>(theta, grad, m, v, v_max, out, n, c, p);
  } else if (kTarget != Target::kNone && shares_step(c, p, false)) {
    update_parallel<false, kTarget, true>(theta, grad, m, v, nullptr, out, n, c, p);
  } else {
    update_parallel<false, kTarget, false>(theta, grad, m, v, nullptr, out, n, c, p);
  }
}

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
  fused::with_target(grad, predicted, [&](auto target) {
    constexpr Target kTarget = decltype(target)::value;
    update_with_target<kTarget>(theta, fused::grad_for<kTarget>(grad), m, v, v_max, predicted, n,
                                c, p);
  });
}

void adam_predict(const float* theta, float* predicted, const float* m, const float* v,
                  std::size_t n, const AdamPredictScalars& prediction) {
  const PredictFloats p(prediction);
  fused::parallel(n, [&](std::size_t lo, std::size_t hi) {
    predict_range(theta, predicted, m, v, lo, hi, p);
  });
}

}  // namespace wp
