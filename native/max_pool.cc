#include "max_pool.h"

#include <algorithm>
#include <cstdint>
#include <limits>
#include <vector>

#include "pool.h"

namespace wp {

void max_pool_grad(const float* x, const float* dy, float* dx, const PoolDims& d) {
  const std::size_t C = d.channels;
  const std::size_t image = static_cast<std::size_t>(d.in_h) * d.in_w * C;
  const std::size_t out_image = static_cast<std::size_t>(d.out_h) * d.out_w * C;
  // An image per part unless images are tiny (then a few per part, so a call stays worthwhile).
  const std::size_t grain =
      std::max<std::size_t>(1, (std::size_t{1} << 14) / std::max<std::size_t>(1, image));
  parallel_for(d.batch, grain, [&](std::size_t lo, std::size_t hi) {
    // Per channel: the best value so far and its offset in the image (−1: none yet). 32-bit
    // offsets beside 32-bit floats let the window loop compile to masked vector selects.
    std::vector<float> best_buffer(C);
    std::vector<std::int32_t> where_buffer(C);
    float* __restrict best = best_buffer.data();
    std::int32_t* __restrict where = where_buffer.data();
    for (std::size_t b = lo; b < hi; b++) {
      const float* xb = x + b * image;
      const float* g = dy + b * out_image;
      float* dxb = dx + b * image;
      std::fill(dxb, dxb + image, 0.0f);
      for (int oh = 0; oh < d.out_h; oh++) {
        const int h_start = oh * d.stride_h - d.pad_top;
        const int h0 = std::max(0, h_start), h1 = std::min(d.in_h, h_start + d.filter_h);
        for (int ow = 0; ow < d.out_w; ow++, g += C) {
          const int w_start = ow * d.stride_w - d.pad_left;
          const int w0 = std::max(0, w_start), w1 = std::min(d.in_w, w_start + d.filter_w);
          for (std::size_t c = 0; c < C; c++) {
            best[c] = -std::numeric_limits<float>::infinity();
            where[c] = -1;
          }
          for (int h = h0; h < h1; h++) {
            for (int w = w0; w < w1; w++) {
              const std::int32_t base = (h * d.in_w + w) * static_cast<std::int32_t>(C);
              const float* __restrict row = xb + base;
              for (std::size_t c = 0; c < C; c++) {
                const float v = row[c];
                const bool take = v > best[c] || (where[c] < 0 && v == best[c]);
                best[c] = take ? v : best[c];
                where[c] = take ? base + static_cast<std::int32_t>(c) : where[c];
              }
            }
          }
          for (std::size_t c = 0; c < C; c++) {
            if (where[c] >= 0) dxb[where[c]] += g[c];
          }
        }
      }
    }
  });
}

}  // namespace wp
