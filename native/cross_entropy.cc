#include "cross_entropy.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "pool.h"

namespace wp {
namespace {

std::size_t row_grain(std::size_t classes) {
  return std::max<std::size_t>(1, (std::size_t{1} << 14) / (classes + 1));
}

}  // namespace

double sparse_softmax_cross_entropy(const float* logits, const int32_t* labels, float* lse,
                                    std::size_t rows, std::size_t classes) {
  std::vector<double> row_loss(rows);
  parallel_for(rows, row_grain(classes), [&](std::size_t lo, std::size_t hi) {
    for (std::size_t r = lo; r < hi; r++) {
      const float* z = logits + r * classes;
      float max = -std::numeric_limits<float>::infinity();
      bool nan = false;
      for (std::size_t c = 0; c < classes; c++) {
        max = z[c] > max ? z[c] : max;
        nan = nan || std::isnan(z[c]);
      }
      double sum = 0;
      // expf: the float exponential is several times faster than the double one here, and each
      // term is below 1 (the row's maximum is subtracted); the sum is kept in float64.
      for (std::size_t c = 0; c < classes; c++) sum += std::exp(z[c] - max);
      const double log_sum = nan ? NAN : max + std::log(sum);
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
    for (std::size_t r = lo; r < hi; r++) {
      const float* z = logits + r * classes;
      float* g = grad + r * classes;
      const float l = lse[r];
      const float s = static_cast<float>(scale);
      for (std::size_t c = 0; c < classes; c++) g[c] = s * std::exp(z[c] - l);
      const int32_t label = labels[r];
      if (label >= 0 && static_cast<std::size_t>(label) < classes) {
        g[label] = s * (std::exp(z[label] - l) - 1.0f);
      }
    }
  });
}

}  // namespace wp
