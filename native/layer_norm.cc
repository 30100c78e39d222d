#include "layer_norm.h"

#include <algorithm>
#include <cmath>

#include "pool.h"

namespace wp {
namespace {

// Rows per thread range: about 16k values of work.
std::size_t row_grain(std::size_t cols) {
  return std::max<std::size_t>(1, (std::size_t{1} << 14) / (cols + 1));
}

}  // namespace

void layer_norm_forward(const float* x, const float* gamma, const float* beta, float* y,
                        float* mean, float* rstd, std::size_t rows, std::size_t cols,
                        double epsilon) {
  parallel_for(rows, row_grain(cols), [&](std::size_t lo, std::size_t hi) {
    for (std::size_t r = lo; r < hi; r++) {
      const float* xr = x + r * cols;
      float* yr = y + r * cols;
      double sum = 0;
      for (std::size_t c = 0; c < cols; c++) sum += xr[c];
      const double m = sum / static_cast<double>(cols);
      double squares = 0;
      for (std::size_t c = 0; c < cols; c++) {
        const double d = xr[c] - m;
        squares += d * d;
      }
      const double rs = 1 / std::sqrt(squares / static_cast<double>(cols) + epsilon);
      mean[r] = static_cast<float>(m);
      rstd[r] = static_cast<float>(rs);
      for (std::size_t c = 0; c < cols; c++) {
        yr[c] = static_cast<float>((xr[c] - m) * rs * gamma[c] + beta[c]);
      }
    }
  });
}

void layer_norm_backward(const float* dy, const float* x, const float* gamma, const float* mean,
                         const float* rstd, float* dx, float* dgamma, float* dbeta,
                         std::size_t rows, std::size_t cols) {
  parallel_for(rows, row_grain(cols), [&](std::size_t lo, std::size_t hi) {
    for (std::size_t r = lo; r < hi; r++) {
      const float* dyr = dy + r * cols;
      const float* xr = x + r * cols;
      float* dxr = dx + r * cols;
      const double m = mean[r], rs = rstd[r];
      double sum_g = 0, sum_gx = 0;
      for (std::size_t c = 0; c < cols; c++) {
        const double xhat = (xr[c] - m) * rs;
        const double g = static_cast<double>(dyr[c]) * gamma[c];
        sum_g += g;
        sum_gx += g * xhat;
      }
      const double mean_g = sum_g / static_cast<double>(cols);
      const double mean_gx = sum_gx / static_cast<double>(cols);
      for (std::size_t c = 0; c < cols; c++) {
        const double xhat = (xr[c] - m) * rs;
        dxr[c] = static_cast<float>(rs * (static_cast<double>(dyr[c]) * gamma[c] - mean_g -
                                          xhat * mean_gx));
      }
    }
  });
  // The parameter gradients by column ranges, each summing its columns over rows in row order.
  parallel_for(cols, 8, [&](std::size_t lo, std::size_t hi) {
    for (std::size_t c = lo; c < hi; c++) {
      double sum_gamma = 0, sum_beta = 0;
      for (std::size_t r = 0; r < rows; r++) {
        const double d = dy[r * cols + c];
        sum_gamma += d * ((x[r * cols + c] - static_cast<double>(mean[r])) * rstd[r]);
        sum_beta += d;
      }
      dgamma[c] = static_cast<float>(sum_gamma);
      dbeta[c] = static_cast<float>(sum_beta);
    }
  });
}

}  // namespace wp
