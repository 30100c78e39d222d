// Single-precision matrix products on the addon's thread pool. OpenBLAS itself runs on one
// thread: its own threads spin after each call and, on two cores, took the core the pool's
// worker needed for the next kernel (the Adam step ran 2× slower right after a matmul). Here
// each pool thread calls sgemm on its own block of C instead.
#pragma once

namespace wp {

// C = op(A)·op(B) + beta·C, row-major, with op(X) = Xᵀ when the flag is set: C is m×n, op(A)
// m×k and op(B) k×n, with leading dimensions lda, ldb, ldc as cblas_sgemm takes them.
void gemm(bool transpose_a, bool transpose_b, int m, int n, int k, const float* a, int lda,
          const float* b, int ldb, float beta, float* c, int ldc);

}  // namespace wp
