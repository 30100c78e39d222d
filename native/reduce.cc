#include "reduce.h"

#include <vector>

#include "pool.h"

namespace wp {

void column_sums(const float* x, float* out, std::size_t rows, std::size_t cols, double scale) {
  // Columns in chunks of up to 1024 (their float64 sums, 8 KiB, stay in L1), each thread owning
  // whole chunks and streaming the rows through them in order: contiguous reads, and each column
  // summed in row order, so the result does not depend on the chunking or the thread count.
  constexpr std::size_t kChunk = 1024;
  const std::size_t chunks = (cols + kChunk - 1) / kChunk;
  const std::size_t grain = rows * cols < (std::size_t{1} << 15) ? chunks : 1;
  parallel_for(chunks, grain, [&](std::size_t lo, std::size_t hi) {
    double acc[kChunk];
    for (std::size_t chunk = lo; chunk < hi; chunk++) {
      const std::size_t c0 = chunk * kChunk;
      const std::size_t width = cols - c0 < kChunk ? cols - c0 : kChunk;
      for (std::size_t k = 0; k < width; k++) acc[k] = 0;
      const float* row = x + c0;
      std::size_t r = 0;
      // Four rows per pass over acc, added in row order (the same sums as one row at a time).
      for (; r + 4 <= rows; r += 4, row += 4 * cols) {
        const float *r1 = row + cols, *r2 = r1 + cols, *r3 = r2 + cols;
        for (std::size_t k = 0; k < width; k++) {
          acc[k] = (((acc[k] + row[k]) + r1[k]) + r2[k]) + r3[k];
        }
      }
      for (; r < rows; r++, row += cols) {
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
