#include "reduce.h"

#include <vector>

#include "pool.h"

namespace wp {

void column_sums(const float* x, float* out, std::size_t rows, std::size_t cols, double scale) {
  // Columns in blocks of 16 (one cache line of floats per row): each thread owns whole blocks.
  constexpr std::size_t kBlock = 16;
  const std::size_t blocks = (cols + kBlock - 1) / kBlock;
  const std::size_t grain = rows * cols < (std::size_t{1} << 15) ? blocks : 1;
  parallel_for(blocks, grain, [&](std::size_t lo, std::size_t hi) {
    double acc[kBlock];
    for (std::size_t block = lo; block < hi; block++) {
      const std::size_t c0 = block * kBlock;
      const std::size_t width = cols - c0 < kBlock ? cols - c0 : kBlock;
      for (std::size_t k = 0; k < kBlock; k++) acc[k] = 0;
      const float* row = x + c0;
      for (std::size_t r = 0; r < rows; r++, row += cols) {
        for (std::size_t k = 0; k < width; k++) acc[k] += row[k];
      }
      for (std::size_t k = 0; k < width; k++) out[c0 + k] = static_cast<float>(acc[k] * scale);
    }
  });
}

double sum_of_squares(const float* x, std::size_t n) {
  constexpr std::size_t kBlock = 1 << 14;
  constexpr std::size_t kLanes = 16;
  const std::size_t blocks = (n + kBlock - 1) / kBlock;
  std::vector<double> partial(blocks);
  // Two blocks per thread at least, so that small arrays stay on the calling thread.
  parallel_for(blocks, 2, [&](std::size_t lo, std::size_t hi) {
    for (std::size_t block = lo; block < hi; block++) {
      const float* p = x + block * kBlock;
      const std::size_t len = block + 1 == blocks ? n - block * kBlock : kBlock;
      double acc[kLanes] = {};
      std::size_t i = 0;
      for (; i + kLanes <= len; i += kLanes) {
        for (std::size_t k = 0; k < kLanes; k++) {
          const double value = p[i + k];
          acc[k] += value * value;
        }
      }
      for (; i < len; i++) acc[0] += static_cast<double>(p[i]) * p[i];
      double sum = 0;
      for (std::size_t k = 0; k < kLanes; k++) sum += acc[k];
      partial[block] = sum;
    }
  });
  double total = 0;
  for (const double s : partial) total += s;
  return total;
}

}  // namespace wp
