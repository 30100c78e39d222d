#include "layer_norm.h"

#include <algorithm>
#include <cmath>

#include "pool.h"

namespace wp {
namespace {

// Rows per task: about 16k values.
std::size_t row_grain(std::size_t cols) {
  return std::max<std::size_t>(1, (std::size_t{1} << 14) / (cols + 1));
}

}  // namespace

void layer_norm(const float* x, const float* gamma, const float* beta, float* y, float* mean,
                float* rstd, std::size_t rows, std::size_t cols, double epsilon) {
  parallel_for(rows, row_grain(cols), [&](std::size_t lo, std::size_t hi) {
    for (std::size_t r = lo; r < hi; r++) {
      const float* xr = x + r * cols;
      float* yr = y + r * cols;
      double sum = 0;
      for (std::size_t c = 0; c < cols; c++) sum += xr[c];
      const double m = sum / cols;
      double squares = 0;
      for (std::size_t c = 0; c < cols; c++) {
        const double d = xr[c] - m;
        squares += d * d;
      }
      const double rs = 1 / std::sqrt(squares / cols + epsilon);
      mean[r] = static_cast<float>(m);
      rstd[r] = static_cast<float>(rs);
      for (std::size_t c = 0; c < cols; c++) {
        yr[c] = static_cast<float>((xr[c] - m) * rs * gamma[c] + beta[c]);
      }
    }
  });
}

void layer_norm_grad(const float* dy, const float* x, const float* gamma, const float* mean,
                     const float* rstd, float* dx, float* dgamma, float* dbeta, std::size_t rows,
                     std::size_t cols) {
  parallel_for(rows, row_grain(cols), [&](std::size_t lo, std::size_t hi) {
    for (std::size_t r = lo; r < hi; r++) {
      const float *dyr = dy + r * cols, *xr = x + r * cols;
      float* dxr = dx + r * cols;
      const double m = mean[r], rs = rstd[r];
      double sum_g = 0, sum_gx = 0;
      for (std::size_t c = 0; c < cols; c++) {
        const double xhat = (xr[c] - m) * rs;
        const double g = static_cast<double>(dyr[c]) * gamma[c];
        sum_g += g;
        sum_gx += g * xhat;
      }
      const double mean_g = sum_g / cols, mean_gx = sum_gx / cols;
      for (std::size_t c = 0; c < cols; c++) {
        const double xhat = (xr[c] - m) * rs;
        dxr[c] = static_cast<float>(rs * (static_cast<double>(dyr[c]) * gamma[c] - mean_g -
                                          xhat * mean_gx));
      }
    }
  });
  // Σ_rows dy·x̂ and Σ_rows dy, each column in row order: chunks of columns per thread, the
  // rows streamed through their float64 sums.
  constexpr std::size_t kChunk = 512;
  const std::size_t chunks = (cols + kChunk - 1) / kChunk;
  parallel_for(chunks, rows * cols < (std::size_t{1} << 15) ? chunks : 1,
               [&](std::size_t lo, std::size_t hi) {
                 double sum_gamma[kChunk], sum_beta[kChunk];
                 for (std::size_t chunk = lo; chunk < hi; chunk++) {
                   const std::size_t c0 = chunk * kChunk;
                   const std::size_t width = std::min(kChunk, cols - c0);
                   std::fill(sum_gamma, sum_gamma + width, 0.0);
                   std::fill(sum_beta, sum_beta + width, 0.0);
                   for (std::size_t r = 0; r < rows; r++) {
                     const float *dyr = dy + r * cols + c0, *xr = x + r * cols + c0;
                     const double m = mean[r], rs = rstd[r];
                     for (std::size_t k = 0; k < width; k++) {
                       const double d = dyr[k];
                       sum_gamma[k] += d * ((xr[k] - m) * rs);
                       sum_beta[k] += d;
                     }
                   }
                   for (std::size_t k = 0; k < width; k++) {
                     dgamma[c0 + k] = static_cast<float>(sum_gamma[k]);
                     dbeta[c0 + k] = static_cast<float>(sum_beta[k]);
                   }
                 }
               });
}

}  // namespace wp
