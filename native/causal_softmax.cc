#include "causal_softmax.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "pool.h"
#include "vexp.h"

namespace wp {
namespace {

// Rows per task: about 16k elements of the (triangular) matrices.
std::size_t row_grain(std::size_t t) {
  return std::max<std::size_t>(1, (std::size_t{1} << 15) / (t + 1));
}

#ifdef WP_VEXP
// Σ of 4 double lanes, pairwise.
inline double lane_sum(__m256d v) {
  alignas(32) double lanes[4];
  _mm256_store_pd(lanes, v);
  return (lanes[0] + lanes[1]) + (lanes[2] + lanes[3]);
}
#endif

}  // namespace

void causal_softmax(const float* x, float* y, std::size_t matrices, std::size_t t, double scale) {
  const float c = static_cast<float>(scale);
  parallel_for(matrices * t, row_grain(t), [&](std::size_t lo, std::size_t hi) {
    thread_local std::vector<double> exps;
    if (exps.size() < t) exps.resize(t);
    for (std::size_t row = lo; row < hi; row++) {
      const std::size_t i = row % t, n = i + 1;
      const float* xr = x + row * t;
      float* yr = y + row * t;
      // The max of the float-scaled scores.
      float max = -std::numeric_limits<float>::infinity();
      bool nan = false;
      for (std::size_t j = 0; j < n; j++) {
        const float s = c * xr[j];
        max = s > max ? s : max;
        nan = nan || std::isnan(s);
      }
      // Math.max gives NaN when any score is NaN: every exp, the sum and y are NaN then.
      const double m = nan ? NAN : static_cast<double>(max);
      double sum = 0;
      std::size_t j = 0;
#ifdef WP_VEXP
      const __m128 cv = _mm_set1_ps(c);
      const __m256d mv = _mm256_set1_pd(m);
      __m256d acc = _mm256_setzero_pd();
      for (; j + 4 <= n; j += 4) {
        const __m256d s = _mm256_cvtps_pd(_mm_mul_ps(cv, _mm_loadu_ps(xr + j)));
        const __m256d e = exp4d(_mm256_sub_pd(s, mv));
        _mm256_storeu_pd(exps.data() + j, e);
        acc = _mm256_add_pd(acc, e);
      }
      sum = lane_sum(acc);
#endif
      for (; j < n; j++) {
        const double e = std::exp(static_cast<double>(c * xr[j]) - m);
        exps[j] = e;
        sum += e;
      }
      const double inv = 1 / sum;
      for (j = 0; j < n; j++) yr[j] = static_cast<float>(exps[j] * inv);
      std::fill(yr + n, yr + t, 0.0f);
    }
  });
}

void causal_softmax_grad(const float* dy, const float* y, float* dx, std::size_t matrices,
                         std::size_t t, double scale) {
  const double c = static_cast<float>(scale);
  parallel_for(matrices * t, row_grain(t), [&](std::size_t lo, std::size_t hi) {
    for (std::size_t row = lo; row < hi; row++) {
      const std::size_t n = row % t + 1;
      const float* dyr = dy + row * t;
      const float* yr = y + row * t;
      float* dxr = dx + row * t;
      double dot = 0;
      std::size_t j = 0;
#ifdef WP_VEXP
      __m256d acc = _mm256_setzero_pd();
      for (; j + 4 <= n; j += 4) {
        // float × float is exact in double, as in the JS loop.
        acc = _mm256_add_pd(acc, _mm256_mul_pd(_mm256_cvtps_pd(_mm_loadu_ps(dyr + j)),
                                               _mm256_cvtps_pd(_mm_loadu_ps(yr + j))));
      }
      dot = lane_sum(acc);
#endif
      for (; j < n; j++) dot += static_cast<double>(dyr[j]) * yr[j];
      j = 0;
#ifdef WP_VEXP
      const __m256d cv = _mm256_set1_pd(c), dotv = _mm256_set1_pd(dot);
      for (; j + 4 <= n; j += 4) {
        const __m256d cy = _mm256_mul_pd(cv, _mm256_cvtps_pd(_mm_loadu_ps(yr + j)));
        const __m256d diff = _mm256_sub_pd(_mm256_cvtps_pd(_mm_loadu_ps(dyr + j)), dotv);
        _mm_storeu_ps(dxr + j, _mm256_cvtpd_ps(_mm256_mul_pd(cy, diff)));
      }
#endif
      for (; j < n; j++) dxr[j] = static_cast<float>(c * yr[j] * (dyr[j] - dot));
      std::fill(dxr + n, dxr + t, 0.0f);
    }
  });
}

}  // namespace wp
