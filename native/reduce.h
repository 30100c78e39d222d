// Sums over the leading axes of a row-major array (a batch-norm or bias gradient's reduction over
// batch and space), in one pass without the transpose TF.js's wasm Sum makes first.
#pragma once
#include <cstddef>

namespace wp {

// out[c] = scale · Σ_r x[r, c], accumulated in float64 in row order (the same result for any
// number of threads: the work is split by columns).
void column_sums(const float* x, float* out, std::size_t rows, std::size_t cols, double scale);

}  // namespace wp
