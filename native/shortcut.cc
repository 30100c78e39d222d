#include "shortcut.h"

#include <algorithm>
#include <cstring>

#include "pool.h"

namespace wp {

namespace {

std::size_t ceil_div(std::size_t a, std::size_t b) { return (a + b - 1) / b; }

// Image rows per task: about 16K floats of output.
std::size_t row_grain(std::size_t row_floats) {
  return std::max<std::size_t>(1, (std::size_t{1} << 14) / (row_floats + 1));
}

}  // namespace

void subsample_pad(const float* x, float* y, std::size_t batch, std::size_t height,
                   std::size_t width, std::size_t channels, std::size_t stride,
                   std::size_t filters) {
  const std::size_t out_h = ceil_div(height, stride), out_w = ceil_div(width, stride);
  const std::size_t rows = batch * out_h;
  parallel_for(rows, row_grain(out_w * filters), [&](std::size_t lo, std::size_t hi) {
    for (std::size_t r = lo; r < hi; r++) {
      const std::size_t b = r / out_h, i = r % out_h;
      const float* in = x + ((b * height + i * stride) * width) * channels;
      float* out = y + r * out_w * filters;
      for (std::size_t j = 0; j < out_w; j++, out += filters) {
        std::memcpy(out, in + j * stride * channels, channels * sizeof(float));
        std::memset(out + channels, 0, (filters - channels) * sizeof(float));
      }
    }
  });
}

void subsample_pad_grad(const float* dy, float* dx, std::size_t batch, std::size_t height,
                        std::size_t width, std::size_t channels, std::size_t stride,
                        std::size_t filters) {
  const std::size_t out_h = ceil_div(height, stride), out_w = ceil_div(width, stride);
  const std::size_t rows = batch * height;
  parallel_for(rows, row_grain(width * channels), [&](std::size_t lo, std::size_t hi) {
    for (std::size_t r = lo; r < hi; r++) {
      const std::size_t b = r / height, h = r % height;
      float* out = dx + r * width * channels;
      if (h % stride != 0) {
        std::memset(out, 0, width * channels * sizeof(float));
        continue;
      }
      const float* in = dy + (b * out_h + h / stride) * out_w * filters;
      for (std::size_t w = 0; w < width; w++, out += channels) {
        if (w % stride == 0) {
          std::memcpy(out, in + (w / stride) * filters, channels * sizeof(float));
        } else {
          std::memset(out, 0, channels * sizeof(float));
        }
      }
    }
  });
}

}  // namespace wp
