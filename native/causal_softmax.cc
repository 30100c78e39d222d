#include "causal_softmax.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "pool.h"
#include "vexp.h"

namespace wp {
namespace {

// Rows per thread range: about 16k values of work.
std::size_t row_grain(std::size_t t) {
  return std::max<std::size_t>(1, (std::size_t{1} << 14) / (t + 1));
}

}  // namespace

void causal_softmax(const float* x, float* y, std::size_t matrices, std::size_t t, double scale) {
  const float c = static_cast<float>(scale);
  parallel_for(matrices * t, row_grain(t), [&](std::size_t lo, std::size_t hi) {
    std::vector<double> exps(t);
    for (std::size_t row = lo; row < hi; row++) {
      const std::size_t i = row % t;
      const float* xr = x + row * t;
      float* yr = y + row * t;
      double max = -std::numeric_limits<double>::infinity();
      bool nan = false;
      for (std::size_t j = 0; j <= i; j++) {
        const float s = c * xr[j];
        nan = nan || std::isnan(s);
        max = s > max ? s : max;
      }
      if (nan) max = NAN;  // Math.max: NaN wins
      std::size_t j = 0;
#ifdef WP_VEXP
      // exp4d is within one double ulp of libm's exp: the float32 results almost never differ.
      const __m256d vmax = _mm256_set1_pd(max);
      const __m256 vc = _mm256_set1_ps(c);
      for (; j + 4 <= i + 1; j += 4) {
        const __m128 s = _mm_mul_ps(_mm256_castps256_ps128(vc), _mm_loadu_ps(xr + j));
        _mm256_storeu_pd(exps.data() + j, exp4d(_mm256_sub_pd(_mm256_cvtps_pd(s), vmax)));
      }
#endif
      for (; j <= i; j++) exps[j] = std::exp(static_cast<double>(c * xr[j]) - max);
      double sum = 0;  // in column order, as the JS loop adds
      for (j = 0; j <= i; j++) sum += exps[j];
      const double inv = 1 / sum;
      for (j = 0; j <= i; j++) yr[j] = static_cast<float>(exps[j] * inv);
      for (j = i + 1; j < t; j++) yr[j] = 0;
    }
  });
}

void causal_softmax_grad(const float* dy, const float* y, float* dx, std::size_t matrices,
                         std::size_t t, double scale) {
  const double c = static_cast<float>(scale);
  parallel_for(matrices * t, row_grain(t), [&](std::size_t lo, std::size_t hi) {
    for (std::size_t row = lo; row < hi; row++) {
      const std::size_t i = row % t;
      const float* dyr = dy + row * t;
      const float* yr = y + row * t;
      float* dxr = dx + row * t;
      double dot = 0;
      for (std::size_t j = 0; j <= i; j++) dot += static_cast<double>(dyr[j]) * yr[j];
      for (std::size_t j = 0; j <= i; j++) {
        dxr[j] = static_cast<float>(c * yr[j] * (static_cast<double>(dyr[j]) - dot));
      }
      for (std::size_t j = i + 1; j < t; j++) dxr[j] = 0;
    }
  });
}

}  // namespace wp
