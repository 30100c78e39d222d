// A tiny fork-join pool, the only threads the addon uses (OpenBLAS runs single-threaded inside
// them, see gemm.h): parallel_for splits [0, n) into one contiguous range per thread; the caller
// runs the first, and any range whose worker has not started by then. Between calls a worker spins briefly, then sleeps on a condition variable: a
// training step calls many kernels in a row, and waking a sleeping thread took ~50 µs on the
// development VM, longer than a whole small kernel.
#pragma once
#include <cstddef>
#include <functional>

namespace wp {

// $WEIGHT_PREDICTION_THREADS when set to a positive integer, else the number of cores.
int configured_threads();

// Number of threads parallel_for uses (the caller included); at least 1.
int pool_threads();

// Uses n threads from now on (clamped to [1, cores]); returns the count in effect.
int set_pool_threads(int n);

// Runs body(lo, hi) over disjoint ranges covering [0, n). Ranges are multiples of `grain` except
// the last; with n < 2 * grain everything runs on the calling thread.
void parallel_for(std::size_t n, std::size_t grain,
                  const std::function<void(std::size_t, std::size_t)>& body);

}  // namespace wp
