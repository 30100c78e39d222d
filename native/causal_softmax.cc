#include "causal_softmax.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "pool.h"

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
      double sum = 0;
      for (std::size_t j = 0; j <= i; j++) {
        const double e = std::exp(static_cast<double>(c * xr[j]) - max);
        exps[j] = e;
        sum += e;
      }
      const double inv = 1 / sum;
      for (std::size_t j = 0; j <= i; j++) yr[j] = static_cast<float>(exps[j] * inv);
      for (std::size_t j = i + 1; j < t; j++) yr[j] = 0;
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
