#include "batch_norm.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "pool.h"

namespace wp {
namespace {

constexpr std::size_t kBlock = 16;  // channels per block: one cache line of floats per row

// Runs body(c0, width) over channel blocks, split across threads by block (each channel is
// reduced by one thread in row order: the same result for any thread count).
template <typename Body>
void for_channel_blocks(std::size_t rows, std::size_t channels, Body body) {
  const std::size_t blocks = (channels + kBlock - 1) / kBlock;
  const std::size_t grain = rows * channels < (std::size_t{1} << 15) ? blocks : 1;
  parallel_for(blocks, grain, [&](std::size_t lo, std::size_t hi) {
    for (std::size_t b = lo; b < hi; b++) {
      const std::size_t c0 = b * kBlock;
      body(c0, channels - c0 < kBlock ? channels - c0 : kBlock);
    }
  });
}

template <typename Body>
void for_rows(std::size_t rows, std::size_t channels, Body body) {
  const std::size_t grain = std::max<std::size_t>(1, (std::size_t{1} << 14) / (channels + 1));
  parallel_for(rows, grain, [&](std::size_t lo, std::size_t hi) { body(lo, hi); });
}

}  // namespace

void batch_norm_forward(const float* x, const float* gamma, const float* beta, float* y,
                        float* mean, float* variance, std::size_t rows, std::size_t channels,
                        double epsilon) {
  std::vector<float> scale(channels), shift(channels);
  for_channel_blocks(rows, channels, [&](std::size_t c0, std::size_t width) {
    double sum[kBlock] = {0}, sum_sq[kBlock] = {0};
    const float* row = x + c0;
    for (std::size_t r = 0; r < rows; r++, row += channels) {
      for (std::size_t k = 0; k < width; k++) {
        const double v = row[k];
        sum[k] += v;
        sum_sq[k] += v * v;
      }
    }
    for (std::size_t k = 0; k < width; k++) {
      const std::size_t c = c0 + k;
      const double m = sum[k] / rows;
      // Clamped at 0 against rounding; NaN stays NaN (std::max(0.0, NaN) would give 0).
      const double raw = sum_sq[k] / rows - m * m;
      const double var = raw < 0 ? 0.0 : raw;
      mean[c] = static_cast<float>(m);
      variance[c] = static_cast<float>(var);
      const double s = gamma[c] / std::sqrt(var + epsilon);
      scale[c] = static_cast<float>(s);
      shift[c] = static_cast<float>(beta[c] - m * s);
    }
  });
  for_rows(rows, channels, [&](std::size_t lo, std::size_t hi) {
    for (std::size_t r = lo; r < hi; r++) {
      const float* in = x + r * channels;
      float* out = y + r * channels;
      for (std::size_t c = 0; c < channels; c++) out[c] = in[c] * scale[c] + shift[c];
    }
  });
}

void batch_norm_backward(const float* dy, const float* x, const float* mean,
                         const float* variance, const float* gamma, float* dx, float* dgamma,
                         float* dbeta, std::size_t rows, std::size_t channels, double epsilon) {
  std::vector<float> a(channels), b(channels), c_(channels);
  for_channel_blocks(rows, channels, [&](std::size_t c0, std::size_t width) {
    double sum_dy[kBlock] = {0}, sum_dy_xc[kBlock] = {0};
    const std::size_t offset = c0;
    for (std::size_t r = 0; r < rows; r++) {
      const float* g = dy + r * channels + offset;
      const float* in = x + r * channels + offset;
      for (std::size_t k = 0; k < width; k++) {
        sum_dy[k] += g[k];
        sum_dy_xc[k] += static_cast<double>(g[k]) * (in[k] - static_cast<double>(mean[c0 + k]));
      }
    }
    for (std::size_t k = 0; k < width; k++) {
      const std::size_t c = c0 + k;
      const double inv_std = 1 / std::sqrt(static_cast<double>(variance[c]) + epsilon);
      const double db = sum_dy[k];
      const double dg = sum_dy_xc[k] * inv_std;  // Σ dy·x̂
      dbeta[c] = static_cast<float>(db);
      dgamma[c] = static_cast<float>(dg);
      // dx = k·dy − k·dβ/N − k·x̂·dγ/N with k = γ/σ and x̂ = (x − mean)/σ:
      //    = a·dy + b·(x − mean) + c_ with a = k, b = −k·dγ/(N·σ), c_ = −k·dβ/N.
      const double k_ = gamma[c] * inv_std;
      a[c] = static_cast<float>(k_);
      b[c] = static_cast<float>(-k_ * dg * inv_std / rows);
      c_[c] = static_cast<float>(-k_ * db / rows);
    }
  });
  for_rows(rows, channels, [&](std::size_t lo, std::size_t hi) {
    for (std::size_t r = lo; r < hi; r++) {
      const float* g = dy + r * channels;
      const float* in = x + r * channels;
      float* out = dx + r * channels;
      for (std::size_t c = 0; c < channels; c++) {
        out[c] = a[c] * g[c] + b[c] * (in[c] - mean[c]) + c_[c];
      }
    }
  });
}

}  // namespace wp
