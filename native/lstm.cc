#include "lstm.h"

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstring>
#include <vector>

#include "gemm.h"
#include "pool.h"
#include "vexp.h"

namespace wp {
namespace {

// Batch rows per thread range in the elementwise passes: vectorised, a step's gates take a few
// microseconds, so threads are woken only for 8k units or more (measured at 20 × 128 units: the
// backward pass took 3.3 ms on one thread, 6.7 ms split over two, on a loaded machine).
std::size_t row_grain(int h) {
  return std::max<std::size_t>(1, 8192 / static_cast<std::size_t>(h));
}

#ifdef WP_VEXP
// σ(x) = 1/(1 + e^−x): e^−x overflows to +Inf for x < −88.7, giving 0 as it should.
inline __m256 sigmoid8(__m256 x) {
  const __m256 one = _mm256_set1_ps(1.0f);
  return _mm256_div_ps(one, _mm256_add_ps(one, exp8(_mm256_sub_ps(_mm256_setzero_ps(), x))));
}

// tanh as Cephes tanhf: an odd polynomial for |x| < 0.625 (no cancellation near 0), else
// 1 − 2/(e^{2|x|} + 1); the sign put back. NaN stays NaN (every comparison with it is false).
inline __m256 tanh8(__m256 x) {
  const __m256 sign = _mm256_set1_ps(-0.0f);
  const __m256 a = _mm256_andnot_ps(sign, x);
  const __m256 one = _mm256_set1_ps(1.0f);
  const __m256 big = _mm256_sub_ps(
      one, _mm256_div_ps(_mm256_set1_ps(2.0f),
                         _mm256_add_ps(exp8(_mm256_add_ps(a, a)), one)));
  const __m256 z = _mm256_mul_ps(a, a);
  __m256 p = _mm256_set1_ps(-5.70498872745e-3f);
  p = _mm256_fmadd_ps(p, z, _mm256_set1_ps(2.06390887954e-2f));
  p = _mm256_fmadd_ps(p, z, _mm256_set1_ps(-5.37397155531e-2f));
  p = _mm256_fmadd_ps(p, z, _mm256_set1_ps(1.33314422036e-1f));
  p = _mm256_fmadd_ps(p, z, _mm256_set1_ps(-3.33332819422e-1f));
  const __m256 small = _mm256_fmadd_ps(_mm256_mul_ps(p, z), a, a);
  const __m256 r = _mm256_blendv_ps(big, small, _mm256_cmp_ps(a, _mm256_set1_ps(0.625f), _CMP_LT_OQ));
  return _mm256_or_ps(r, _mm256_and_ps(sign, x));
}
#endif

inline float sigmoid(float x) { return 1.0f / (1.0f + std::exp(-x)); }

// One step's gates for one batch row: z (pre-activations, i f g o) becomes the activated gates,
// then c = f·c_prev + i·g and h = o·tanh(c).
void forward_row(float* z, const float* c_prev, float* c, float* h_out, std::size_t H) {
  std::size_t j = 0;
#ifdef WP_VEXP
  for (; j + 8 <= H; j += 8) {
    const __m256 i = sigmoid8(_mm256_loadu_ps(z + j));
    const __m256 f = sigmoid8(_mm256_loadu_ps(z + H + j));
    const __m256 g = tanh8(_mm256_loadu_ps(z + 2 * H + j));
    const __m256 o = sigmoid8(_mm256_loadu_ps(z + 3 * H + j));
    _mm256_storeu_ps(z + j, i);
    _mm256_storeu_ps(z + H + j, f);
    _mm256_storeu_ps(z + 2 * H + j, g);
    _mm256_storeu_ps(z + 3 * H + j, o);
    const __m256 cj = _mm256_add_ps(_mm256_mul_ps(f, _mm256_loadu_ps(c_prev + j)), _mm256_mul_ps(i, g));
    _mm256_storeu_ps(c + j, cj);
    _mm256_storeu_ps(h_out + j, _mm256_mul_ps(o, tanh8(cj)));
  }
#endif
  for (; j < H; j++) {
    const float i = sigmoid(z[j]);
    const float f = sigmoid(z[H + j]);
    const float g = std::tanh(z[2 * H + j]);
    const float o = sigmoid(z[3 * H + j]);
    z[j] = i;
    z[H + j] = f;
    z[2 * H + j] = g;
    z[3 * H + j] = o;
    c[j] = f * c_prev[j] + i * g;
    h_out[j] = o * std::tanh(c[j]);
  }
}

// One step's gradients for one batch row (the stock ops' gradients: σ' = y·(1 − y),
// tanh' = 1 − y², products by the chain rule); dh and dc are the recurrent gradients in, and dc
// the cell's gradient out to the previous step.
void backward_row(const float* a, const float* c, const float* c_prev, const float* dh_out,
                  const float* dh, float* dc, float* dz, std::size_t H) {
  std::size_t j = 0;
#ifdef WP_VEXP
  const __m256 one = _mm256_set1_ps(1.0f);
  for (; j + 8 <= H; j += 8) {
    const __m256 i = _mm256_loadu_ps(a + j), f = _mm256_loadu_ps(a + H + j);
    const __m256 g = _mm256_loadu_ps(a + 2 * H + j), o = _mm256_loadu_ps(a + 3 * H + j);
    const __m256 tc = tanh8(_mm256_loadu_ps(c + j));
    const __m256 dh_j = _mm256_add_ps(_mm256_loadu_ps(dh_out + j), _mm256_loadu_ps(dh + j));
    const __m256 dc_j = _mm256_add_ps(
        _mm256_loadu_ps(dc + j),
        _mm256_mul_ps(_mm256_sub_ps(one, _mm256_mul_ps(tc, tc)), _mm256_mul_ps(dh_j, o)));
    _mm256_storeu_ps(dz + j, _mm256_mul_ps(_mm256_mul_ps(dc_j, g),
                                           _mm256_mul_ps(i, _mm256_sub_ps(one, i))));
    _mm256_storeu_ps(dz + H + j,
                     _mm256_mul_ps(_mm256_mul_ps(dc_j, _mm256_loadu_ps(c_prev + j)),
                                   _mm256_mul_ps(f, _mm256_sub_ps(one, f))));
    _mm256_storeu_ps(dz + 2 * H + j, _mm256_mul_ps(_mm256_sub_ps(one, _mm256_mul_ps(g, g)),
                                                   _mm256_mul_ps(dc_j, i)));
    _mm256_storeu_ps(dz + 3 * H + j, _mm256_mul_ps(_mm256_mul_ps(dh_j, tc),
                                                   _mm256_mul_ps(o, _mm256_sub_ps(one, o))));
    _mm256_storeu_ps(dc + j, _mm256_mul_ps(dc_j, f));
  }
#endif
  for (; j < H; j++) {
    const float i = a[j], f = a[H + j], g = a[2 * H + j], o = a[3 * H + j];
    const float tc = std::tanh(c[j]);
    const float dh_j = dh_out[j] + dh[j];
    const float dc_j = dc[j] + (1.0f - tc * tc) * (dh_j * o);
    dz[j] = (dc_j * g) * (i * (1.0f - i));
    dz[H + j] = (dc_j * c_prev[j]) * (f * (1.0f - f));
    dz[2 * H + j] = (1.0f - g * g) * (dc_j * i);
    dz[3 * H + j] = (dh_j * tc) * (o * (1.0f - o));
    dc[j] = dc_j * f;
  }
}

}  // namespace

void lstm_forward(const float* xproj, const float* h0, const float* c0, const float* u,
                  float* out, float* gates, float* cells, int b, int t, int h) {
  const std::size_t H = h, G = 4 * H, T = t;
  if (H == 0) return;  // every array is empty
  std::memcpy(gates, xproj, sizeof(float) * b * T * G);
  for (std::size_t s = 0; s < T; s++) {
    // z_s = xproj_s + h_{s−1}·U, in place in the gates of step s (rows t·4H apart).
    const float* h_prev = s == 0 ? h0 : out + (s - 1) * H;
    const int ld_h = s == 0 ? h : static_cast<int>((T + 1) * H);
    gemm(false, false, b, static_cast<int>(G), h, h_prev, ld_h, u, static_cast<int>(G), 1.0f,
         gates + s * G, static_cast<int>(T * G));
    parallel_for(b, row_grain(h), [&](std::size_t lo, std::size_t hi) {
      for (std::size_t r = lo; r < hi; r++) {
        float* z = gates + (r * T + s) * G;
        const float* c_prev = s == 0 ? c0 + r * H : cells + (r * T + s - 1) * H;
        float* c = cells + (r * T + s) * H;
        forward_row(z, c_prev, c, out + (r * (T + 1) + s) * H, H);
      }
    });
  }
  for (int r = 0; r < b; r++) {
    const float* c_last = T == 0 ? c0 + r * H : cells + (r * T + T - 1) * H;
    std::memcpy(out + (r * (T + 1) + T) * H, c_last, sizeof(float) * H);
  }
}

void lstm_backward(const float* dout, const float* gates, const float* cells, const float* out,
                   const float* h0, const float* c0, const float* u, float* dxproj, float* dh0,
                   float* dc0, float* du, int b, int t, int h) {
  const std::size_t H = h, G = 4 * H, T = t;
  if (H == 0) return;  // every array is empty
  // dh0 and dc0 carry the recurrent gradients dh_s, dc_s from step to step.
  std::memset(dh0, 0, sizeof(float) * b * H);
  for (int r = 0; r < b; r++) std::memcpy(dc0 + r * H, dout + (r * (T + 1) + T) * H, sizeof(float) * H);
  for (std::size_t s = T; s-- > 0;) {
    parallel_for(b, row_grain(h), [&](std::size_t lo, std::size_t hi) {
      for (std::size_t r = lo; r < hi; r++) {
        const float* a = gates + (r * T + s) * G;
        const float* c = cells + (r * T + s) * H;
        const float* c_prev = s == 0 ? c0 + r * H : cells + (r * T + s - 1) * H;
        const float* dh_out = dout + (r * (T + 1) + s) * H;
        float* dh = dh0 + r * H;
        float* dc = dc0 + r * H;
        backward_row(a, c, c_prev, dh_out, dh, dc, dxproj + (r * T + s) * G, H);
      }
    });
    // dh_{s−1} = dz_s·Uᵀ.
    gemm(false, true, b, h, static_cast<int>(G), dxproj + s * G, static_cast<int>(T * G), u,
         static_cast<int>(G), 0.0f, dh0, h);
  }
  // dU = Σ_s h_{s−1}ᵀ·dz_s: one product over every (row, step) pair.
  std::vector<float> h_prev(static_cast<std::size_t>(b) * T * H);
  for (int r = 0; r < b; r++) {
    if (T == 0) break;
    std::memcpy(h_prev.data() + r * T * H, h0 + r * H, sizeof(float) * H);
    std::memcpy(h_prev.data() + (r * T + 1) * H, out + r * (T + 1) * H, sizeof(float) * (T - 1) * H);
  }
  if (T == 0 || b == 0) {
    std::memset(du, 0, sizeof(float) * H * G);
    return;
  }
  gemm(true, false, h, static_cast<int>(G), b * t, h_prev.data(), h, dxproj, static_cast<int>(G),
       0.0f, du, static_cast<int>(G));
}

}  // namespace wp
