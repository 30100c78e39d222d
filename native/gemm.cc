#include "gemm.h"

#include <cblas.h>

#include <algorithm>
#include <cstddef>

#include "pool.h"

namespace wp {
namespace {

// Below this many multiply-adds a product stays on the calling thread (~20 µs of work).
constexpr double kMinParallel = 1 << 20;
// Blocks of C are whole multiples of this many rows or columns (a vector of floats and more).
constexpr int kAlign = 16;

void sgemm(bool ta, bool tb, int m, int n, int k, const float* a, int lda, const float* b,
           int ldb, float beta, float* c, int ldc) {
  cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, m,
              n, k, 1.0f, a, lda, b, ldb, beta, c, ldc);
}

}  // namespace

void gemm(bool ta, bool tb, int m, int n, int k, const float* a, int lda, const float* b,
          int ldb, float beta, float* c, int ldc) {
  if (m == 0 || n == 0) return;
  const double work = static_cast<double>(m) * n * k;
  if (pool_threads() < 2 || work < kMinParallel) {
    sgemm(ta, tb, m, n, k, a, lda, b, ldb, beta, c, ldc);
    return;
  }
  // Split C along its longer side: rows take rows of op(A), columns take columns of op(B).
  if (m >= n) {
    parallel_for(static_cast<std::size_t>(m), kAlign, [&](std::size_t lo, std::size_t hi) {
      const float* a_block = ta ? a + lo : a + lo * static_cast<std::size_t>(lda);
      sgemm(ta, tb, static_cast<int>(hi - lo), n, k, a_block, lda, b, ldb, beta,
            c + lo * static_cast<std::size_t>(ldc), ldc);
    });
  } else {
    parallel_for(static_cast<std::size_t>(n), kAlign, [&](std::size_t lo, std::size_t hi) {
      const float* b_block = tb ? b + lo * static_cast<std::size_t>(ldb) : b + lo;
      sgemm(ta, tb, m, static_cast<int>(hi - lo), k, a, lda, b_block, ldb, beta, c + lo, ldc);
    });
  }
}

}  // namespace wp
