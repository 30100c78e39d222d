#include "direct_conv.h"

#include <algorithm>
#include <vector>

#include "pool.h"

#if defined(__AVX2__) && defined(__FMA__)
#include <immintrin.h>
#define WP_DIRECT_CONV 1
#endif

namespace wp {

#ifdef WP_DIRECT_CONV
namespace {

// The calling thread's buffer of at least `floats` zeros: the input under the padding.
const float* zeros(std::size_t floats) {
  thread_local std::vector<float> buffer;
  if (buffer.size() < floats) buffer.assign(floats, 0.0f);
  return buffer.data();
}

// Output pixels [ow0, ow0 + P) of row (b, oh), channels [oc0, oc0 + 8V): P × V accumulators of
// 8 floats in registers, one FMA per (pixel, vector) for each (tap, input channel) in order.
template <int P, int V>
inline void conv_block(const float* x, const float* w, float* y_row, const ConvDims& d, int b,
                       int oh, int ow0, int oc0, const float* zero) {
  const std::size_t C = d.in_c;
  const std::size_t OC = d.out_c;
  __m256 acc[P][V];
#pragma GCC unroll 16
  for (int p = 0; p < P; p++) {
#pragma GCC unroll 8
    for (int v = 0; v < V; v++) acc[p][v] = _mm256_setzero_ps();
  }
  for (int i = 0; i < d.filter_h; i++) {
    const int ih = oh * d.stride_h - d.pad_top + i * d.dilation_h;
    if (ih < 0 || ih >= d.in_h) continue;
    const float* x_row = x + (static_cast<std::size_t>(b) * d.in_h + ih) * d.in_w * C;
    for (int j = 0; j < d.filter_w; j++) {
      const float* xp[P];
#pragma GCC unroll 16
      for (int p = 0; p < P; p++) {
        const int iw = (ow0 + p) * d.stride_w - d.pad_left + j * d.dilation_w;
        xp[p] = iw < 0 || iw >= d.in_w ? zero : x_row + static_cast<std::size_t>(iw) * C;
      }
      const float* wp = w + (static_cast<std::size_t>(i) * d.filter_w + j) * C * OC + oc0;
      for (std::size_t c = 0; c < C; c++, wp += OC) {
        __m256 wv[V];
#pragma GCC unroll 8
        for (int v = 0; v < V; v++) wv[v] = _mm256_loadu_ps(wp + 8 * v);
#pragma GCC unroll 16
        for (int p = 0; p < P; p++) {
          const __m256 xb = _mm256_broadcast_ss(xp[p] + c);
#pragma GCC unroll 8
          for (int v = 0; v < V; v++) acc[p][v] = _mm256_fmadd_ps(xb, wv[v], acc[p][v]);
        }
      }
    }
  }
#pragma GCC unroll 16
  for (int p = 0; p < P; p++) {
#pragma GCC unroll 8
    for (int v = 0; v < V; v++) {
      _mm256_storeu_ps(y_row + static_cast<std::size_t>(ow0 + p) * OC + oc0 + 8 * v, acc[p][v]);
    }
  }
}

// One output row, all its channels: blocks of 16 channels (6 pixels at a time, 12
// accumulators), then one of 8 if out_c is an odd multiple of 8.
template <int P, int V>
void conv_row_part(const float* x, const float* w, float* y_row, const ConvDims& d, int b, int oh,
                   int oc0, const float* zero) {
  int ow = 0;
  for (; ow + P <= d.out_w; ow += P) conv_block<P, V>(x, w, y_row, d, b, oh, ow, oc0, zero);
  for (; ow < d.out_w; ow++) conv_block<1, V>(x, w, y_row, d, b, oh, ow, oc0, zero);
}

void conv_row(const float* x, const float* w, float* y_row, const ConvDims& d, int b, int oh,
              const float* zero) {
  int oc = 0;
  for (; oc + 16 <= d.out_c; oc += 16) conv_row_part<6, 2>(x, w, y_row, d, b, oh, oc, zero);
  if (oc < d.out_c) conv_row_part<12, 1>(x, w, y_row, d, b, oh, oc, zero);
}

}  // namespace

bool direct_conv_applies(const ConvDims& d) { return d.out_c % 8 == 0 && d.out_c > 0; }

bool direct_conv(const float* x, const float* w, float* y, const ConvDims& d) {
  if (!direct_conv_applies(d)) return false;
  const std::size_t rows = static_cast<std::size_t>(d.batch) * d.out_h;
  const double row_work =
      static_cast<double>(d.out_w) * d.out_c * d.filter_h * d.filter_w * d.in_c;
  const std::size_t grain = std::max<std::size_t>(1, static_cast<std::size_t>((1 << 16) / row_work));
  parallel_for(rows, grain, [&](std::size_t lo, std::size_t hi) {
    const float* zero = zeros(d.in_c);
    for (std::size_t r = lo; r < hi; r++) {
      const int b = static_cast<int>(r / d.out_h);
      const int oh = static_cast<int>(r % d.out_h);
      conv_row(x, w, y + r * d.out_w * d.out_c, d, b, oh, zero);
    }
  });
  return true;
}

bool direct_conv_backprop_input(const float* dy, const float* w, float* dx, const ConvDims& d) {
  // With stride 1, dx is the convolution of dy with the filter flipped in space and transposed
  // in channels: dx[b, ih, iw, c] = Σ dy[b, ih − p'ₕ + i'·dₕ, …, oc] · w[FH−1−i', FW−1−j', c, oc]
  // with p' = (F − 1)·dilation − pad.
  if (d.stride_h != 1 || d.stride_w != 1 || d.in_c % 8 != 0 || d.in_c == 0) return false;
  const std::size_t taps = static_cast<std::size_t>(d.filter_h) * d.filter_w;
  thread_local std::vector<float> flipped;
  flipped.resize(taps * d.in_c * d.out_c);
  for (std::size_t t = 0; t < taps; t++) {
    const float* src = w + (taps - 1 - t) * d.in_c * d.out_c;  // [c, oc]
    float* dst = flipped.data() + t * d.out_c * d.in_c;        // [oc, c]
    for (int c = 0; c < d.in_c; c++) {
      for (int oc = 0; oc < d.out_c; oc++) dst[oc * d.in_c + c] = src[c * d.out_c + oc];
    }
  }
  ConvDims t{};
  t.batch = d.batch;
  t.in_h = d.out_h;
  t.in_w = d.out_w;
  t.in_c = d.out_c;
  t.out_h = d.in_h;
  t.out_w = d.in_w;
  t.out_c = d.in_c;
  t.filter_h = d.filter_h;
  t.filter_w = d.filter_w;
  t.stride_h = 1;
  t.stride_w = 1;
  t.dilation_h = d.dilation_h;
  t.dilation_w = d.dilation_w;
  t.pad_top = (d.filter_h - 1) * d.dilation_h - d.pad_top;
  t.pad_left = (d.filter_w - 1) * d.dilation_w - d.pad_left;
  return direct_conv(dy, flipped.data(), dx, t);
}

#else

bool direct_conv_applies(const ConvDims&) { return false; }
bool direct_conv(const float*, const float*, float*, const ConvDims&) { return false; }
bool direct_conv_backprop_input(const float*, const float*, float*, const ConvDims&) {
  return false;
}

#endif

}  // namespace wp
