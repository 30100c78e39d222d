#include "gelu.h"

#include <cmath>

#include "pool.h"

namespace wp {
namespace {

constexpr std::size_t kGrain = std::size_t{1} << 14;

// TF.js's erf (tfjs-backend-cpu Erf), in double as the JS loop computes it.
inline double erf_as(double x) {
  constexpr double p = 0.3275911, a1 = 0.254829592, a2 = -0.284496736, a3 = 1.421413741,
                   a4 = -1.453152027, a5 = 1.061405429;
  const double sign = x > 0 ? 1.0 : (x < 0 ? -1.0 : x);  // Math.sign: ±0 and NaN pass through
  const double v = std::fabs(x);
  const double t = 1 / (1 + p * v);
  return sign * (1 - ((((a5 * t + a4) * t + a3) * t + a2) * t + a1) * t * std::exp(-v * v));
}

constexpr double kSqrtHalf = 0.7071067811865476;       // Math.SQRT1_2
constexpr double kInvSqrt2Pi = 0.3989422804014327;     // 1 / Math.sqrt(2π)

}  // namespace

void gelu(const float* x, float* y, std::size_t n) {
  parallel_for(n, kGrain, [&](std::size_t lo, std::size_t hi) {
    for (std::size_t i = lo; i < hi; i++) {
      const double v = x[i];
      y[i] = static_cast<float>(0.5 * v * (1 + erf_as(v * kSqrtHalf)));
    }
  });
}

void gelu_grad(const float* dy, const float* x, float* dx, std::size_t n) {
  parallel_for(n, kGrain, [&](std::size_t lo, std::size_t hi) {
    for (std::size_t i = lo; i < hi; i++) {
      const double v = x[i];
      const double cdf = 0.5 * (1 + erf_as(v * kSqrtHalf));
      dx[i] = static_cast<float>(dy[i] * (cdf + v * kInvSqrt2Pi * std::exp(-0.5 * v * v)));
    }
  });
}

}  // namespace wp
