// Sums over the leading axes of a row-major array (a batch-norm or bias gradient's reduction over
// batch and space), in one pass without the transpose TF.js's wasm Sum makes first.
#pragma once
#include <cstddef>

namespace wp {

// out[c] = scale · Σ_r x[r, c], accumulated in float64 in row order (the same result for any
// number of threads: the work is split by columns).
void column_sums(const float* x, float* out, std::size_t rows, std::size_t cols, double scale);

// Σ x² in float64 (cannot overflow for float32 inputs; NaN or ±Infinity in x make it non-finite),
// summed in fixed blocks whose partial sums are added in order: the same result for any number
// of threads.
double sum_of_squares(const float* x, std::size_t n);

}  // namespace wp
