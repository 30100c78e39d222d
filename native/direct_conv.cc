#include "direct_conv.h"

#include <algorithm>
#include <type_traits>
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
  static_assert(P == 6 || P == 12, "the tail switch below covers P − 1 ≤ 11 pixels");
  int ow = 0;
  for (; ow + P <= d.out_w; ow += P) conv_block<P, V>(x, w, y_row, d, b, oh, ow, oc0, zero);
  // The last pixels in one block too (one pixel at a time would leave the FMAs waiting on
  // each other: too few accumulators).
  const auto tail = [&](auto p) {
    conv_block<decltype(p)::value, V>(x, w, y_row, d, b, oh, ow, oc0, zero);
  };
  switch (d.out_w - ow) {
    case 0: break;
    case 1: tail(std::integral_constant<int, 1>{}); break;
    case 2: tail(std::integral_constant<int, 2>{}); break;
    case 3: tail(std::integral_constant<int, 3>{}); break;
    case 4: tail(std::integral_constant<int, 4>{}); break;
    case 5: tail(std::integral_constant<int, 5>{}); break;
    case 6: tail(std::integral_constant<int, 6>{}); break;
    case 7: tail(std::integral_constant<int, 7>{}); break;
    case 8: tail(std::integral_constant<int, 8>{}); break;
    case 9: tail(std::integral_constant<int, 9>{}); break;
    case 10: tail(std::integral_constant<int, 10>{}); break;
    default: tail(std::integral_constant<int, 11>{}); break;
  }
}

void conv_row(const float* x, const float* w, float* y_row, const ConvDims& d, int b, int oh,
              const float* zero) {
  int oc = 0;
  for (; oc + 16 <= d.out_c; oc += 16) conv_row_part<6, 2>(x, w, y_row, d, b, oh, oc, zero);
  if (oc < d.out_c) conv_row_part<12, 1>(x, w, y_row, d, b, oh, oc, zero);
}

// [lo, hi) of outputs o in [0, out) whose input o·stride − pad + offset lies in [0, in).
void valid_range(int out, int stride, int pad, int offset, int in, int& lo, int& hi) {
  const int shift = pad - offset;  // o·stride ≥ shift and o·stride ≤ in − 1 + shift
  lo = shift <= 0 ? 0 : (shift + stride - 1) / stride;
  const int top = in - 1 + shift;
  hi = top < 0 ? 0 : std::min(out, top / stride + 1);
  if (hi < lo) hi = lo;
}

// dw[tap, c0 + cb, oc0 + 8v] += Σ over one image's output pixels of x under the tap times dy:
// CB × V accumulators in registers for the whole image (x and dy of one image stay in L2).
template <int CB, int V>
inline void filter_block(const float* x_img, const float* dy_img, float* dw_tap,
                         const ConvDims& d, int i, int j, int c0, int oc0, int oh_lo, int oh_hi,
                         int ow_lo, int ow_hi) {
  const std::size_t C = d.in_c;
  const std::size_t OC = d.out_c;
  __m256 acc[CB][V];
#pragma GCC unroll 16
  for (int cb = 0; cb < CB; cb++) {
#pragma GCC unroll 8
    for (int v = 0; v < V; v++) acc[cb][v] = _mm256_loadu_ps(dw_tap + (c0 + cb) * OC + oc0 + 8 * v);
  }
  for (int oh = oh_lo; oh < oh_hi; oh++) {
    const int ih = oh * d.stride_h - d.pad_top + i * d.dilation_h;
    const float* x_row = x_img + static_cast<std::size_t>(ih) * d.in_w * C + c0;
    const float* dy_row = dy_img + static_cast<std::size_t>(oh) * d.out_w * OC + oc0;
    for (int ow = ow_lo; ow < ow_hi; ow++) {
      const int iw = ow * d.stride_w - d.pad_left + j * d.dilation_w;
      const float* xs = x_row + static_cast<std::size_t>(iw) * C;
      const float* ds = dy_row + static_cast<std::size_t>(ow) * OC;
      __m256 dv[V];
#pragma GCC unroll 8
      for (int v = 0; v < V; v++) dv[v] = _mm256_loadu_ps(ds + 8 * v);
#pragma GCC unroll 16
      for (int cb = 0; cb < CB; cb++) {
        const __m256 xb = _mm256_broadcast_ss(xs + cb);
#pragma GCC unroll 8
        for (int v = 0; v < V; v++) acc[cb][v] = _mm256_fmadd_ps(xb, dv[v], acc[cb][v]);
      }
    }
  }
#pragma GCC unroll 16
  for (int cb = 0; cb < CB; cb++) {
#pragma GCC unroll 8
    for (int v = 0; v < V; v++) _mm256_storeu_ps(dw_tap + (c0 + cb) * OC + oc0 + 8 * v, acc[cb][v]);
  }
}

constexpr int kFilterCB = 6;  // input channels per block: 6 × 2 accumulators + 2 + 1 registers

template <int V>
void filter_channels(const float* x_img, const float* dy_img, float* dw_tap, const ConvDims& d,
                     int i, int j, int oc0, int oh_lo, int oh_hi, int ow_lo, int ow_hi) {
  for (int c0 = 0; c0 < d.in_c; c0 += kFilterCB) {
    const auto run = [&](auto cb) {
      filter_block<decltype(cb)::value, V>(x_img, dy_img, dw_tap, d, i, j, c0, oc0, oh_lo, oh_hi,
                                           ow_lo, ow_hi);
    };
    switch (std::min(kFilterCB, d.in_c - c0)) {
      case 1: run(std::integral_constant<int, 1>{}); break;
      case 2: run(std::integral_constant<int, 2>{}); break;
      case 3: run(std::integral_constant<int, 3>{}); break;
      case 4: run(std::integral_constant<int, 4>{}); break;
      case 5: run(std::integral_constant<int, 5>{}); break;
      default: run(std::integral_constant<int, 6>{}); break;
    }
  }
}

// Adds the contribution of one image's output rows [row0, row1) to dw, tap by tap.
void filter_rows(const float* x_img, const float* dy_img, float* dw, const ConvDims& d, int row0,
                 int row1) {
  const std::size_t tap_size = static_cast<std::size_t>(d.in_c) * d.out_c;
  for (int i = 0; i < d.filter_h; i++) {
    int oh_lo, oh_hi;
    valid_range(d.out_h, d.stride_h, d.pad_top, i * d.dilation_h, d.in_h, oh_lo, oh_hi);
    oh_lo = std::max(oh_lo, row0);
    oh_hi = std::min(oh_hi, row1);
    if (oh_lo >= oh_hi) continue;
    for (int j = 0; j < d.filter_w; j++) {
      int ow_lo, ow_hi;
      valid_range(d.out_w, d.stride_w, d.pad_left, j * d.dilation_w, d.in_w, ow_lo, ow_hi);
      if (ow_lo == ow_hi) continue;
      float* dw_tap = dw + (static_cast<std::size_t>(i) * d.filter_w + j) * tap_size;
      int oc = 0;
      for (; oc + 16 <= d.out_c; oc += 16) {
        filter_channels<2>(x_img, dy_img, dw_tap, d, i, j, oc, oh_lo, oh_hi, ow_lo, ow_hi);
      }
      if (oc < d.out_c) {
        filter_channels<1>(x_img, dy_img, dw_tap, d, i, j, oc, oh_lo, oh_hi, ow_lo, ow_hi);
      }
    }
  }
}

}  // namespace

// Up to 32 input channels: with more (VGG's 64 and 128, ResNet-8's 64 at 7×7) im2col + sgemm
// was as fast or up to 2× faster on this machine: each 6-pixel block then streams a filter slice
// (taps × in_c × 16 floats) larger than L1.
bool direct_conv_applies(const ConvDims& d) {
  return d.out_c % 8 == 0 && d.out_c > 0 && d.in_c <= 32;
}

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

bool direct_conv_backprop_filter(const float* x, const float* dy, float* dw, const ConvDims& d) {
  // With more input channels, im2col + sgemm was as fast or faster in the ResNet-8 layers
  // (measured on this machine: 32 channels at 14×14 tied, 32 and 64 at 7×7 lost 10–25%).
  if (!direct_conv_applies(d) || d.in_c == 0 || d.in_c > 16) return false;
  // One partial dw per part (a contiguous range of images; part 0 writes dw itself), summed in
  // part order: the same result for a given number of threads.
  const std::size_t size = static_cast<std::size_t>(d.filter_h) * d.filter_w * d.in_c * d.out_c;
  const std::size_t parts =
      std::max<std::size_t>(1, std::min<std::size_t>(pool_threads(), d.batch));
  thread_local std::vector<float> partials;
  partials.assign((parts - 1) * size, 0.0f);
  std::fill(dw, dw + size, 0.0f);
  const std::size_t x_image = static_cast<std::size_t>(d.in_h) * d.in_w * d.in_c;
  const std::size_t dy_image = static_cast<std::size_t>(d.out_h) * d.out_w * d.out_c;
  float* const partial_base = partials.data();
  const std::size_t row_bytes =
      sizeof(float) * (static_cast<std::size_t>(d.out_w) * d.out_c +
                       static_cast<std::size_t>(d.stride_h) * d.in_w * d.in_c);
  const int tile = static_cast<int>(std::max<std::size_t>(1, (std::size_t{16} << 10) / row_bytes));
  parallel_for(parts, 1, [&](std::size_t lo, std::size_t hi) {
    for (std::size_t part = lo; part < hi; part++) {
      float* target = part == 0 ? dw : partial_base + (part - 1) * size;
      for (std::size_t b = part * d.batch / parts; b < (part + 1) * d.batch / parts; b++) {
        // Rows in tiles whose dy and x (~16 KiB) stay in L1 while every (tap, channel block)
        // passes over them: a whole image's did not, and the passes then waited on L2.
        for (int row = 0; row < d.out_h; row += tile) {
          filter_rows(x + b * x_image, dy + b * dy_image, target, d, row,
                      std::min(d.out_h, row + tile));
        }
      }
    }
  });
  for (std::size_t part = 1; part < parts; part++) {
    const float* partial = partial_base + (part - 1) * size;
    for (std::size_t k = 0; k < size; k++) dw[k] += partial[k];
  }
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
bool direct_conv_backprop_filter(const float*, const float*, float*, const ConvDims&) {
  return false;
}
bool direct_conv_backprop_input(const float*, const float*, float*, const ConvDims&) {
  return false;
}

#endif

}  // namespace wp
