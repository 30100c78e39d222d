#include "cross_entropy.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "pool.h"
#include "vexp.h"

namespace wp {
namespace {

std::size_t row_grain(std::size_t classes) {
  return std::max<std::size_t>(1, (std::size_t{1} << 14) / (classes + 1));
}

// One exponential, the same function the vector loops use (so a row's terms all come from one
// exp); std::exp (the float one) without AVX2.
inline float exp1(float x) {
#ifdef WP_VEXP
  return _mm256_cvtss_f32(exp8(_mm256_set1_ps(x)));
#else
  return std::exp(x);
#endif
}

// The row's maximum, NaNs skipped (−Inf for an all-NaN row).
float row_max(const float* z, std::size_t classes) {
  float max = -std::numeric_limits<float>::infinity();
  std::size_t c = 0;
#ifdef WP_VEXP
  if (classes >= 16) {
    // max_ps(z, acc) returns its second operand when z is NaN: the NaN is skipped.
    __m256 m0 = _mm256_set1_ps(max), m1 = m0;
    for (; c + 16 <= classes; c += 16) {
      m0 = _mm256_max_ps(_mm256_loadu_ps(z + c), m0);
      m1 = _mm256_max_ps(_mm256_loadu_ps(z + c + 8), m1);
    }
    alignas(32) float lanes[8];
    _mm256_store_ps(lanes, _mm256_max_ps(m0, m1));
    for (float v : lanes) max = v > max ? v : max;
  }
#endif
  for (; c < classes; c++) max = z[c] > max ? z[c] : max;
  return max;
}

// Σ exp(z[c] − max) in float64. Each term is at most 1; a NaN logit gives a NaN term (z − max
// is NaN), and so does a row of −Inf or one with +Inf (−Inf − −Inf, +Inf − +Inf).
double row_exp_sum(const float* z, std::size_t classes, float max) {
  double sum = 0;
  std::size_t c = 0;
#ifdef WP_VEXP
  const __m256 m = _mm256_set1_ps(max);
  __m256d s0 = _mm256_setzero_pd(), s1 = s0;
  for (; c + 8 <= classes; c += 8) {
    const __m256 e = exp8(_mm256_sub_ps(_mm256_loadu_ps(z + c), m));
    s0 = _mm256_add_pd(s0, _mm256_cvtps_pd(_mm256_castps256_ps128(e)));
    s1 = _mm256_add_pd(s1, _mm256_cvtps_pd(_mm256_extractf128_ps(e, 1)));
  }
  alignas(32) double lanes[4];
  _mm256_store_pd(lanes, _mm256_add_pd(s0, s1));
  sum = (lanes[0] + lanes[1]) + (lanes[2] + lanes[3]);
#endif
  for (; c < classes; c++) sum += exp1(z[c] - max);
  return sum;
}

}  // namespace

double sparse_softmax_cross_entropy(const float* logits, const int32_t* labels, float* lse,
                                    std::size_t rows, std::size_t classes) {
  std::vector<double> row_loss(rows);
  parallel_for(rows, row_grain(classes), [&](std::size_t lo, std::size_t hi) {
    for (std::size_t r = lo; r < hi; r++) {
      const float* z = logits + r * classes;
      // Two passes over the row, the second from cache (a 10k-class row is 40 KB): the
      // vectorised max costs little next to the exponentials, and a one-pass (online) max+sum
      // would rescale the running sum whenever the maximum grows.
      const float max = row_max(z, classes);
      const double log_sum = max + std::log(row_exp_sum(z, classes, max));
      lse[r] = static_cast<float>(log_sum);
      const int32_t label = labels[r];
      row_loss[r] = label >= 0 && static_cast<std::size_t>(label) < classes
                        ? log_sum - z[label]
                        : NAN;
    }
  });
  double total = 0;  // in row order: the same sum for any thread count
  for (double v : row_loss) total += v;
  return rows == 0 ? NAN : total / rows;
}

void sparse_softmax_cross_entropy_grad(const float* logits, const int32_t* labels,
                                       const float* lse, float* grad, std::size_t rows,
                                       std::size_t classes, double scale) {
  parallel_for(rows, row_grain(classes), [&](std::size_t lo, std::size_t hi) {
    const float s = static_cast<float>(scale);
    for (std::size_t r = lo; r < hi; r++) {
      const float* z = logits + r * classes;
      float* g = grad + r * classes;
      const float l = lse[r];
      std::size_t c = 0;
#ifdef WP_VEXP
      const __m256 lv = _mm256_set1_ps(l), sv = _mm256_set1_ps(s);
      for (; c + 8 <= classes; c += 8) {
        const __m256 e = exp8(_mm256_sub_ps(_mm256_loadu_ps(z + c), lv));
        _mm256_storeu_ps(g + c, _mm256_mul_ps(sv, e));
      }
#endif
      for (; c < classes; c++) g[c] = s * exp1(z[c] - l);
      const int32_t label = labels[r];
      if (label >= 0 && static_cast<std::size_t>(label) < classes) {
        g[label] = s * (exp1(z[label] - l) - 1.0f);
      }
    }
  });
}

}  // namespace wp
