#include "lstm.h"

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstring>
#include <vector>

#include "gemm.h"
#include "pool.h"

namespace wp {
namespace {

// Batch rows per thread in the elementwise passes: about 512 units of work per range.
std::size_t row_grain(int h) { return std::max<std::size_t>(1, 512 / static_cast<std::size_t>(h)); }

inline float sigmoid(float x) { return 1.0f / (1.0f + std::exp(-x)); }

}  // namespace

void lstm_forward(const float* xproj, const float* h0, const float* c0, const float* u,
                  float* out, float* gates, float* cells, int b, int t, int h) {
  const std::size_t H = h, G = 4 * H, T = t;
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
        float* h_out = out + (r * (T + 1) + s) * H;
        for (std::size_t j = 0; j < H; j++) {
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
        float* dz = dxproj + (r * T + s) * G;
        for (std::size_t j = 0; j < H; j++) {
          const float i = a[j], f = a[H + j], g = a[2 * H + j], o = a[3 * H + j];
          const float tc = std::tanh(c[j]);
          const float dh_j = dh_out[j] + dh[j];
          // The stock gradients: σ' = y·(1 − y), tanh' = 1 − y², products as the chain rule.
          const float dc_j = dc[j] + (1.0f - tc * tc) * (dh_j * o);
          dz[j] = (dc_j * g) * (i * (1.0f - i));
          dz[H + j] = (dc_j * c_prev[j]) * (f * (1.0f - f));
          dz[2 * H + j] = (1.0f - g * g) * (dc_j * i);
          dz[3 * H + j] = (dh_j * tc) * (o * (1.0f - o));
          dc[j] = dc_j * f;
        }
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
