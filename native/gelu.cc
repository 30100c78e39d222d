#include "gelu.h"

#include <cmath>

#include "pool.h"
#include "vexp.h"

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

#ifdef WP_VEXP
// erf_as on 4 doubles: the same operations in the same order (no FMA), exp4d for std::exp.
inline __m256d erf_as4(__m256d x) {
  const __m256d zero = _mm256_setzero_pd();
  const __m256d one = _mm256_set1_pd(1.0);
  // Math.sign: 1 for x > 0, −1 for x < 0, else x itself (±0, NaN).
  __m256d sign = _mm256_blendv_pd(x, one, _mm256_cmp_pd(x, zero, _CMP_GT_OQ));
  sign = _mm256_blendv_pd(sign, _mm256_set1_pd(-1.0), _mm256_cmp_pd(x, zero, _CMP_LT_OQ));
  const __m256d v = _mm256_andnot_pd(_mm256_set1_pd(-0.0), x);
  const __m256d t =
      _mm256_div_pd(one, _mm256_add_pd(one, _mm256_mul_pd(_mm256_set1_pd(0.3275911), v)));
  __m256d p = _mm256_set1_pd(1.061405429);
  p = _mm256_add_pd(_mm256_mul_pd(p, t), _mm256_set1_pd(-1.453152027));
  p = _mm256_add_pd(_mm256_mul_pd(p, t), _mm256_set1_pd(1.421413741));
  p = _mm256_add_pd(_mm256_mul_pd(p, t), _mm256_set1_pd(-0.284496736));
  p = _mm256_add_pd(_mm256_mul_pd(p, t), _mm256_set1_pd(0.254829592));
  p = _mm256_mul_pd(p, t);
  const __m256d e = exp4d(_mm256_mul_pd(_mm256_xor_pd(v, _mm256_set1_pd(-0.0)), v));
  return _mm256_mul_pd(sign, _mm256_sub_pd(one, _mm256_mul_pd(p, e)));
}

// Φ(v) = 0.5·(1 + erf(v·√½)), as the scalar loops compute it.
inline __m256d cdf4(__m256d v) {
  return _mm256_mul_pd(
      _mm256_set1_pd(0.5),
      _mm256_add_pd(_mm256_set1_pd(1.0), erf_as4(_mm256_mul_pd(v, _mm256_set1_pd(kSqrtHalf)))));
}
#endif

}  // namespace

void gelu(const float* x, float* y, std::size_t n) {
  parallel_for(n, kGrain, [&](std::size_t lo, std::size_t hi) {
    std::size_t i = lo;
#ifdef WP_VEXP
    for (; i + 4 <= hi; i += 4) {
      const __m256d v = _mm256_cvtps_pd(_mm_loadu_ps(x + i));
      const __m256d half_v = _mm256_mul_pd(_mm256_set1_pd(0.5), v);
      const __m256d one_plus_erf = _mm256_add_pd(
          _mm256_set1_pd(1.0), erf_as4(_mm256_mul_pd(v, _mm256_set1_pd(kSqrtHalf))));
      _mm_storeu_ps(y + i, _mm256_cvtpd_ps(_mm256_mul_pd(half_v, one_plus_erf)));
    }
#endif
    for (; i < hi; i++) {
      const double v = x[i];
      y[i] = static_cast<float>(0.5 * v * (1 + erf_as(v * kSqrtHalf)));
    }
  });
}

void gelu_grad(const float* dy, const float* x, float* dx, std::size_t n) {
  parallel_for(n, kGrain, [&](std::size_t lo, std::size_t hi) {
    std::size_t i = lo;
#ifdef WP_VEXP
    for (; i + 4 <= hi; i += 4) {
      const __m256d v = _mm256_cvtps_pd(_mm_loadu_ps(x + i));
      const __m256d pdf = exp4d(_mm256_mul_pd(_mm256_mul_pd(_mm256_set1_pd(-0.5), v), v));
      const __m256d slope = _mm256_add_pd(
          cdf4(v), _mm256_mul_pd(_mm256_mul_pd(v, _mm256_set1_pd(kInvSqrt2Pi)), pdf));
      _mm_storeu_ps(dx + i,
                    _mm256_cvtpd_ps(_mm256_mul_pd(_mm256_cvtps_pd(_mm_loadu_ps(dy + i)), slope)));
    }
#endif
    for (; i < hi; i++) {
      const double v = x[i];
      const double cdf = 0.5 * (1 + erf_as(v * kSqrtHalf));
      dx[i] = static_cast<float>(dy[i] * (cdf + v * kInvSqrt2Pi * std::exp(-0.5 * v * v)));
    }
  });
}

}  // namespace wp
