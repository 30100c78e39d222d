#include "relu.h"

#include "pool.h"

namespace wp {

void relu_grad(const float* dy, const float* x, float* dx, std::size_t n) {
  parallel_for(n, std::size_t{1} << 15, [&](std::size_t lo, std::size_t hi) {
    for (std::size_t i = lo; i < hi; i++) {
      const float v = x[i];
      const float step = v > 0.0f ? 1.0f : (v != v ? v : 0.0f);
      dx[i] = dy[i] * step;
    }
  });
}

}  // namespace wp
