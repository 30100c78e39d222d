#include "batch_norm.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "pool.h"

namespace wp {
namespace {

constexpr std::size_t kBlock = 16;  // channels per block: one cache line of floats per row
// Rows per partial sum. A channel's sums are taken over fixed chunks of rows, each by one thread
// in row order, and the chunks' sums added in chunk order: the same result for any thread count,
// and all threads busy however few channels there are (16 in a CIFAR ResNet's first stage).
constexpr std::size_t kRowChunk = 2048;

// For every chunk of rows × block of channels, body(r0, r1, c0, width, sums) adds its rows into
// kSums zeroed arrays of kBlock doubles; then, per block, finish(c0, width, totals) gets those
// sums added over the chunks in order. Tasks are ordered chunk-major, so each thread takes a
// contiguous range of rows, as for_rows gives it for the pass that follows.
template <std::size_t kSums, typename Body, typename Finish>
void reduce_channels(std::size_t rows, std::size_t channels, Body body, Finish finish) {
  const std::size_t blocks = (channels + kBlock - 1) / kBlock;
  const std::size_t chunks = std::max<std::size_t>(1, (rows + kRowChunk - 1) / kRowChunk);
  const std::size_t stride = kSums * kBlock;
  std::vector<double> partial(chunks * blocks * stride, 0.0);
  const std::size_t tasks = chunks * blocks;
  const std::size_t grain = rows * channels < (std::size_t{1} << 15) ? tasks : 1;
  parallel_for(tasks, grain, [&](std::size_t lo, std::size_t hi) {
    for (std::size_t t = lo; t < hi; t++) {
      const std::size_t r0 = t / blocks * kRowChunk;
      const std::size_t c0 = t % blocks * kBlock;
      body(r0, std::min(rows, r0 + kRowChunk), c0, std::min(kBlock, channels - c0),
           partial.data() + t * stride);
    }
  });
  for (std::size_t b = 0; b < blocks; b++) {
    double totals[kSums * kBlock] = {0};
    for (std::size_t chunk = 0; chunk < chunks; chunk++) {
      const double* sums = partial.data() + (chunk * blocks + b) * stride;
      for (std::size_t i = 0; i < stride; i++) totals[i] += sums[i];
    }
    const std::size_t c0 = b * kBlock;
    finish(c0, std::min(kBlock, channels - c0), totals);
  }
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
  reduce_channels<2>(
      rows, channels,
      [&](std::size_t r0, std::size_t r1, std::size_t c0, std::size_t width, double* sums) {
        double sum[kBlock] = {0}, sum_sq[kBlock] = {0};
        const float* row = x + r0 * channels + c0;
        for (std::size_t r = r0; r < r1; r++, row += channels) {
          for (std::size_t k = 0; k < width; k++) {
            const double v = row[k];
            sum[k] += v;
            sum_sq[k] += v * v;
          }
        }
        std::copy(sum, sum + kBlock, sums);
        std::copy(sum_sq, sum_sq + kBlock, sums + kBlock);
      },
      [&](std::size_t c0, std::size_t width, const double* totals) {
        for (std::size_t k = 0; k < width; k++) {
          const std::size_t c = c0 + k;
          const double m = totals[k] / rows;
          // Clamped at 0 against rounding; NaN stays NaN (std::max(0.0, NaN) would give 0).
          const double raw = totals[kBlock + k] / rows - m * m;
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
  reduce_channels<2>(
      rows, channels,
      [&](std::size_t r0, std::size_t r1, std::size_t c0, std::size_t width, double* sums) {
        double sum_dy[kBlock] = {0}, sum_dy_xc[kBlock] = {0};
        for (std::size_t r = r0; r < r1; r++) {
          const float* g = dy + r * channels + c0;
          const float* in = x + r * channels + c0;
          for (std::size_t k = 0; k < width; k++) {
            sum_dy[k] += g[k];
            sum_dy_xc[k] +=
                static_cast<double>(g[k]) * (in[k] - static_cast<double>(mean[c0 + k]));
          }
        }
        std::copy(sum_dy, sum_dy + kBlock, sums);
        std::copy(sum_dy_xc, sum_dy_xc + kBlock, sums + kBlock);
      },
      [&](std::size_t c0, std::size_t width, const double* totals) {
        for (std::size_t k = 0; k < width; k++) {
          const std::size_t c = c0 + k;
          const double inv_std = 1 / std::sqrt(static_cast<double>(variance[c]) + epsilon);
          const double db = totals[k];
          const double dg = totals[kBlock + k] * inv_std;  // Σ dy·x̂
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
