#include "optimizers.h"

#include <cmath>

#include "fused.h"

namespace wp {
namespace {

using fused::grad_for;
using fused::gradient_at;
using fused::js_max;
using fused::js_sign;
using fused::Target;

// Each loop below is its JS twin in src/kernels/fused/<rule>.ts with Math.fround dropped: the
// same float32 operations on the same operands in the same order (see fused.h). Options that
// change the loop are template flags, so that each variant is one branch-free loop.

struct LinearFloats {
  float a, b;
  explicit LinearFloats(const LinearPrediction& p)
      : a(static_cast<float>(p.a)), b(static_cast<float>(p.b)) {}
};

// ---------------------------------------------------------------- SGD (fused/sgd.ts)

struct SgdFloats {
  float gs, l2, lr, momentum, keep_gradient;
  explicit SgdFloats(const SgdScalars& c)
      : gs(static_cast<float>(c.grad_scale)),
        l2(static_cast<float>(c.l2)),
        lr(static_cast<float>(c.learning_rate)),
        momentum(static_cast<float>(c.momentum)),
        keep_gradient(static_cast<float>(1 - c.dampening)) {}
};

template <Target kTarget, bool kMomentum, bool kNesterov, bool kFirst, bool kSlot>
void sgd_range(float* __restrict theta, const float* __restrict grad, float* __restrict slot,
               float* __restrict out, std::size_t lo, std::size_t hi, const SgdFloats& c,
               const LinearFloats& p) {
  for (std::size_t i = lo; i < hi; i++) {
    const float t = theta[i];
    const float g = gradient_at<kTarget>(grad, out, i) * c.gs + c.l2 * t;
    float d = g;
    // Δθ for θ̂: the slot just written (the momentum buffer, or this gradient).
    float direction = g;
    if constexpr (kMomentum) {
      const float buf = kFirst ? g : slot[i] * c.momentum + g * c.keep_gradient;
      slot[i] = buf;
      d = kNesterov ? g + buf * c.momentum : buf;
      direction = buf;
    } else if constexpr (kSlot) {
      slot[i] = g;
    }
    const float updated = t - d * c.lr;
    theta[i] = updated;
    if constexpr (kTarget != Target::kNone) out[i] = p.a * updated - p.b * direction;
  }
}

void linear_predict_range(const float* __restrict theta, float* __restrict predicted,
                          const float* __restrict direction, std::size_t lo, std::size_t hi,
                          const LinearFloats& p) {
  for (std::size_t i = lo; i < hi; i++) predicted[i] = p.a * theta[i] - p.b * direction[i];
}

// ---------------------------------------------------------------- RMSprop (fused/rmsprop.ts)

struct RmspropFloats {
  float gs, l2, lr, alpha, one_minus_alpha, epsilon, momentum;
  explicit RmspropFloats(const RmspropScalars& c)
      : gs(static_cast<float>(c.grad_scale)),
        l2(static_cast<float>(c.l2)),
        lr(static_cast<float>(c.learning_rate)),
        alpha(static_cast<float>(c.alpha)),
        one_minus_alpha(static_cast<float>(1 - c.alpha)),
        epsilon(static_cast<float>(c.epsilon)),
        momentum(static_cast<float>(c.momentum)) {}
};

// √(v − ḡ²) + ε (not centred: √v + ε), as fused/rmsprop.ts's `denominator`.
template <bool kCentered>
inline float rmsprop_denominator(float v, float g_avg, float epsilon) {
  return std::sqrt(kCentered ? v - g_avg * g_avg : v) + epsilon;
}

template <Target kTarget, bool kCentered, bool kMomentum, bool kLast>
void rmsprop_range(float* __restrict theta, const float* __restrict grad, float* __restrict v,
                   float* __restrict g_avg, float* __restrict last, float* __restrict out,
                   std::size_t lo, std::size_t hi, const RmspropFloats& c, const LinearFloats& p) {
  for (std::size_t i = lo; i < hi; i++) {
    const float t = theta[i];
    const float g = gradient_at<kTarget>(grad, out, i) * c.gs + c.l2 * t;
    const float vi = v[i] * c.alpha + (g * g) * c.one_minus_alpha;
    v[i] = vi;
    float gi = 0;
    if constexpr (kCentered) {
      gi = g_avg[i] * c.alpha + g * c.one_minus_alpha;
      g_avg[i] = gi;
    }
    const float avg = rmsprop_denominator<kCentered>(vi, gi, c.epsilon);
    float direction;
    if constexpr (kMomentum) {
      direction = last[i] * c.momentum + g / avg;
      last[i] = direction;
    } else {
      direction = g / avg;
      if constexpr (kLast) last[i] = g;
    }
    const float updated = t - direction * c.lr;
    theta[i] = updated;
    if constexpr (kTarget != Target::kNone) out[i] = p.a * updated - p.b * direction;
  }
}

template <bool kCentered>
void rmsprop_predict_range(const float* __restrict theta, float* __restrict predicted,
                           const float* __restrict v, const float* __restrict g_avg,
                           const float* __restrict last, std::size_t lo, std::size_t hi,
                           float epsilon, const LinearFloats& p) {
  for (std::size_t i = lo; i < hi; i++) {
    const float g_avg_i = kCentered ? g_avg[i] : 0;
    const float d = last[i] / rmsprop_denominator<kCentered>(v[i], g_avg_i, epsilon);
    predicted[i] = p.a * theta[i] - p.b * d;
  }
}

// ---------------------------------------------------------------- AdaBelief (fused/adabelief.ts)

struct AdaBeliefFloats {
  float gs, l2, keep, beta1, beta2, one_minus_beta1, one_minus_beta2, epsilon, sqrt_bc2,
      step_size;
  explicit AdaBeliefFloats(const AdaBeliefScalars& c)
      : gs(static_cast<float>(c.grad_scale)),
        l2(static_cast<float>(c.l2)),
        keep(static_cast<float>(c.keep)),
        beta1(static_cast<float>(c.beta1)),
        beta2(static_cast<float>(c.beta2)),
        one_minus_beta1(static_cast<float>(1 - c.beta1)),
        one_minus_beta2(static_cast<float>(1 - c.beta2)),
        epsilon(static_cast<float>(c.epsilon)),
        sqrt_bc2(static_cast<float>(c.sqrt_bc2)),
        step_size(static_cast<float>(c.step_size)) {}
};

struct AdaBeliefPredictFloats {
  float a, b, sqrt_bc2, bc1;
  explicit AdaBeliefPredictFloats(const AdaBeliefPrediction& p)
      : a(static_cast<float>(p.a)),
        b(static_cast<float>(p.b)),
        sqrt_bc2(static_cast<float>(p.sqrt_bc2)),
        bc1(static_cast<float>(p.bc1)) {}
};

// θ̂ of one element, shared by the update and the predict pass so that they agree bit for bit.
inline float adabelief_predicted(float theta, float m, float s, float epsilon,
                                 const AdaBeliefPredictFloats& p) {
  const float ratio = m / (std::sqrt(s) / p.sqrt_bc2 + epsilon);
  return p.a * theta - p.b * (ratio / p.bc1);
}

template <Target kTarget, bool kAmsgrad, bool kDecoupled>
void adabelief_range(float* __restrict theta, const float* __restrict grad, float* __restrict m,
                     float* __restrict s, float* __restrict s_max, float* __restrict out,
                     std::size_t lo, std::size_t hi, const AdaBeliefFloats& c,
                     const AdaBeliefPredictFloats& p) {
  for (std::size_t i = lo; i < hi; i++) {
    const float t = theta[i];
    const float decayed = kDecoupled ? t * c.keep : t;
    const float g = gradient_at<kTarget>(grad, out, i) * c.gs + c.l2 * t;
    const float mi = m[i] * c.beta1 + g * c.one_minus_beta1;
    const float diff = g - mi;
    const float si = (s[i] * c.beta2 + (diff * diff) * c.one_minus_beta2) + c.epsilon;
    m[i] = mi;
    s[i] = si;
    float second = si;
    if constexpr (kAmsgrad) {
      second = js_max(s_max[i], si);
      s_max[i] = second;
    }
    const float ratio = mi / (std::sqrt(second) / c.sqrt_bc2 + c.epsilon);
    const float updated = decayed - ratio * c.step_size;
    theta[i] = updated;
    // The prediction uses s, never s_max.
    if constexpr (kTarget != Target::kNone) {
      out[i] = adabelief_predicted(updated, mi, si, c.epsilon, p);
    }
  }
}

void adabelief_predict_range(const float* __restrict theta, float* __restrict predicted,
                             const float* __restrict m, const float* __restrict s, std::size_t lo,
                             std::size_t hi, float epsilon, const AdaBeliefPredictFloats& p) {
  for (std::size_t i = lo; i < hi; i++) {
    predicted[i] = adabelief_predicted(theta[i], m[i], s[i], epsilon, p);
  }
}

// ---------------------------------------------------------------- NAdam (fused/nadam.ts)

struct NAdamFloats {
  float gs, l2, keep, beta1, beta2, one_minus_beta1, one_minus_beta2, bc2, epsilon, on_grad,
      on_momentum;
  explicit NAdamFloats(const NAdamScalars& c)
      : gs(static_cast<float>(c.grad_scale)),
        l2(static_cast<float>(c.l2)),
        keep(static_cast<float>(c.keep)),
        beta1(static_cast<float>(c.beta1)),
        beta2(static_cast<float>(c.beta2)),
        one_minus_beta1(static_cast<float>(1 - c.beta1)),
        one_minus_beta2(static_cast<float>(1 - c.beta2)),
        bc2(static_cast<float>(c.bc2)),
        epsilon(static_cast<float>(c.epsilon)),
        on_grad(static_cast<float>(c.on_grad)),
        on_momentum(static_cast<float>(c.on_momentum)) {}
};

struct NAdamPredictFloats {
  float a, scale, bc2;
  explicit NAdamPredictFloats(const NAdamPrediction& p)
      : a(static_cast<float>(p.a)),
        scale(static_cast<float>(p.scale)),
        bc2(static_cast<float>(p.bc2)) {}
};

inline float nadam_predicted(float theta, float m, float v, float epsilon,
                             const NAdamPredictFloats& p) {
  const float d = std::sqrt(v / p.bc2) + epsilon;
  return p.a * theta - (p.scale * m) / d;
}

template <Target kTarget>
void nadam_range(float* __restrict theta, const float* __restrict grad, float* __restrict m,
                 float* __restrict v, float* __restrict out, std::size_t lo, std::size_t hi,
                 const NAdamFloats& c, const NAdamPredictFloats& p) {
  for (std::size_t i = lo; i < hi; i++) {
    const float t = theta[i];
    const float g = gradient_at<kTarget>(grad, out, i) * c.gs + c.l2 * t;
    const float mi = c.beta1 * m[i] + c.one_minus_beta1 * g;
    const float vi = c.beta2 * v[i] + (c.one_minus_beta2 * g) * g;
    m[i] = mi;
    v[i] = vi;
    const float d = std::sqrt(vi / c.bc2) + c.epsilon;
    const float next = (t * c.keep - (c.on_grad * g) / d) - (c.on_momentum * mi) / d;
    theta[i] = next;
    if constexpr (kTarget != Target::kNone) out[i] = nadam_predicted(next, mi, vi, c.epsilon, p);
  }
}

void nadam_predict_range(const float* __restrict theta, float* __restrict predicted,
                         const float* __restrict m, const float* __restrict v, std::size_t lo,
                         std::size_t hi, float epsilon, const NAdamPredictFloats& p) {
  for (std::size_t i = lo; i < hi; i++) {
    predicted[i] = nadam_predicted(theta[i], m[i], v[i], epsilon, p);
  }
}

// ---------------------------------------------------------------- Lion (fused/lion.ts)

struct LionFloats {
  float gs, keep, lr, beta1, beta2, one_minus_beta1, one_minus_beta2;
  explicit LionFloats(const LionScalars& c)
      : gs(static_cast<float>(c.grad_scale)),
        keep(static_cast<float>(c.keep)),
        lr(static_cast<float>(c.learning_rate)),
        beta1(static_cast<float>(c.beta1)),
        beta2(static_cast<float>(c.beta2)),
        one_minus_beta1(static_cast<float>(1 - c.beta1)),
        one_minus_beta2(static_cast<float>(1 - c.beta2)) {}
};

template <Target kTarget>
void lion_range(float* __restrict theta, const float* __restrict grad, float* __restrict m,
                float* __restrict out, std::size_t lo, std::size_t hi, const LionFloats& c,
                const LinearFloats& p) {
  for (std::size_t i = lo; i < hi; i++) {
    const float g = gradient_at<kTarget>(grad, out, i) * c.gs;
    const float mi = m[i];
    const float direction = js_sign(c.beta1 * mi + c.one_minus_beta1 * g);
    const float next = theta[i] * c.keep - c.lr * direction;
    const float m_next = c.beta2 * mi + c.one_minus_beta2 * g;
    theta[i] = next;
    m[i] = m_next;
    if constexpr (kTarget != Target::kNone) out[i] = p.a * next - p.b * js_sign(m_next);
  }
}

void lion_predict_range(const float* __restrict theta, float* __restrict predicted,
                        const float* __restrict m, std::size_t lo, std::size_t hi,
                        const LinearFloats& p) {
  for (std::size_t i = lo; i < hi; i++) predicted[i] = p.a * theta[i] - p.b * js_sign(m[i]);
}

}  // namespace

void sgd_update(float* theta, const float* grad, float* slot, float* predicted, std::size_t n,
                const SgdScalars& scalars, const LinearPrediction& prediction) {
  const SgdFloats c(scalars);
  const LinearFloats p(prediction);
  const bool momentum = scalars.momentum != 0;
  fused::with_target(grad, predicted, [&](auto target) {
    constexpr Target kT = decltype(target)::value;
    fused::with_flag(momentum, [&](auto kMomentum) {
      fused::with_flag(momentum && scalars.nesterov, [&](auto kNesterov) {
        fused::with_flag(momentum && scalars.first_step, [&](auto kFirst) {
          fused::with_flag(slot != nullptr, [&](auto kSlot) {
            fused::parallel(n, [&](std::size_t lo, std::size_t hi) {
              sgd_range<kT, decltype(kMomentum)::value, decltype(kNesterov)::value,
                        decltype(kFirst)::value, decltype(kSlot)::value>(
                  theta, grad_for<kT>(grad), slot, predicted, lo, hi, c, p);
            });
          });
        });
      });
    });
  });
}

void linear_predict(const float* theta, float* predicted, const float* direction, std::size_t n,
                    const LinearPrediction& prediction) {
  const LinearFloats p(prediction);
  fused::parallel(n, [&](std::size_t lo, std::size_t hi) {
    linear_predict_range(theta, predicted, direction, lo, hi, p);
  });
}

void rmsprop_update(float* theta, const float* grad, float* v, float* g_avg, float* last,
                    float* predicted, std::size_t n, const RmspropScalars& scalars,
                    const LinearPrediction& prediction) {
  const RmspropFloats c(scalars);
  const LinearFloats p(prediction);
  fused::with_target(grad, predicted, [&](auto target) {
    constexpr Target kT = decltype(target)::value;
    fused::with_flag(g_avg != nullptr, [&](auto kCentered) {
      fused::with_flag(scalars.momentum != 0, [&](auto kMomentum) {
        fused::with_flag(last != nullptr, [&](auto kLast) {
          fused::parallel(n, [&](std::size_t lo, std::size_t hi) {
            rmsprop_range<kT, decltype(kCentered)::value, decltype(kMomentum)::value,
                          decltype(kLast)::value>(theta, grad_for<kT>(grad), v, g_avg, last,
                                                  predicted, lo, hi, c, p);
          });
        });
      });
    });
  });
}

void rmsprop_predict(const float* theta, float* predicted, const float* v, const float* g_avg,
                     const float* last, bool momentum, double epsilon, std::size_t n,
                     const LinearPrediction& prediction) {
  if (momentum) {
    linear_predict(theta, predicted, last, n, prediction);
    return;
  }
  const LinearFloats p(prediction);
  const float eps = static_cast<float>(epsilon);
  fused::with_flag(g_avg != nullptr, [&](auto kCentered) {
    fused::parallel(n, [&](std::size_t lo, std::size_t hi) {
      rmsprop_predict_range<decltype(kCentered)::value>(theta, predicted, v, g_avg, last, lo, hi,
                                                         eps, p);
    });
  });
}

void adabelief_update(float* theta, const float* grad, float* m, float* s, float* s_max,
                      float* predicted, std::size_t n, const AdaBeliefScalars& scalars,
                      const AdaBeliefPrediction& prediction) {
  const AdaBeliefFloats c(scalars);
  const AdaBeliefPredictFloats p(prediction);
  fused::with_target(grad, predicted, [&](auto target) {
    constexpr Target kT = decltype(target)::value;
    fused::with_flag(s_max != nullptr, [&](auto kAmsgrad) {
      fused::with_flag(scalars.decoupled, [&](auto kDecoupled) {
        fused::parallel(n, [&](std::size_t lo, std::size_t hi) {
          adabelief_range<kT, decltype(kAmsgrad)::value, decltype(kDecoupled)::value>(
              theta, grad_for<kT>(grad), m, s, s_max, predicted, lo, hi, c, p);
        });
      });
    });
  });
}

void adabelief_predict(const float* theta, float* predicted, const float* m, const float* s,
                       double epsilon, std::size_t n, const AdaBeliefPrediction& prediction) {
  const AdaBeliefPredictFloats p(prediction);
  const float eps = static_cast<float>(epsilon);
  fused::parallel(n, [&](std::size_t lo, std::size_t hi) {
    adabelief_predict_range(theta, predicted, m, s, lo, hi, eps, p);
  });
}

void nadam_update(float* theta, const float* grad, float* m, float* v, float* predicted,
                  std::size_t n, const NAdamScalars& scalars, const NAdamPrediction& prediction) {
  const NAdamFloats c(scalars);
  const NAdamPredictFloats p(prediction);
  fused::with_target(grad, predicted, [&](auto target) {
    constexpr Target kT = decltype(target)::value;
    fused::parallel(n, [&](std::size_t lo, std::size_t hi) {
      nadam_range<kT>(theta, grad_for<kT>(grad), m, v, predicted, lo, hi, c, p);
    });
  });
}

void nadam_predict(const float* theta, float* predicted, const float* m, const float* v,
                   double epsilon, std::size_t n, const NAdamPrediction& prediction) {
  const NAdamPredictFloats p(prediction);
  const float eps = static_cast<float>(epsilon);
  fused::parallel(n, [&](std::size_t lo, std::size_t hi) {
    nadam_predict_range(theta, predicted, m, v, lo, hi, eps, p);
  });
}

void lion_update(float* theta, const float* grad, float* m, float* predicted, std::size_t n,
                 const LionScalars& scalars, const LinearPrediction& prediction) {
  const LionFloats c(scalars);
  const LinearFloats p(prediction);
  fused::with_target(grad, predicted, [&](auto target) {
    constexpr Target kT = decltype(target)::value;
    fused::parallel(n, [&](std::size_t lo, std::size_t hi) {
      lion_range<kT>(theta, grad_for<kT>(grad), m, predicted, lo, hi, c, p);
    });
  });
}

void lion_predict(const float* theta, float* predicted, const float* m, std::size_t n,
                  const LinearPrediction& prediction) {
  const LinearFloats p(prediction);
  fused::parallel(n, [&](std::size_t lo, std::size_t hi) {
    lion_predict_range(theta, predicted, m, lo, hi, p);
  });
}

}  // namespace wp
