#include "conv.h"

#include <algorithm>
#include <cstring>
#include <vector>

#include "direct_conv.h"
#include "gemm.h"
#include "pool.h"
#include "winograd.h"

namespace wp {
namespace {

// Patch-matrix floats per chunk of the batch (1 MiB): small enough that im2col's output is still
// in cache when sgemm reads it. Each pool thread takes whole chunks with its own scratch buffer,
// so im2col, sgemm and col2im all run in parallel without sharing anything.
constexpr std::size_t kChunkFloats = std::size_t{1} << 18;

// The calling thread's scratch buffer of at least `floats` floats.
float* scratch(std::size_t floats) {
  thread_local std::vector<float> buffer;
  if (buffer.size() < floats) buffer.resize(floats);
  return buffer.data();
}

std::size_t patch_size(const ConvDims& d) {
  return static_cast<std::size_t>(d.filter_h) * d.filter_w * d.in_c;
}

std::size_t rows_per_item(const ConvDims& d) {
  return static_cast<std::size_t>(d.out_h) * d.out_w;
}

int batch_chunk(const ConvDims& d) {
  const std::size_t per_item = rows_per_item(d) * patch_size(d);
  if (per_item == 0) return std::max(1, d.batch);
  return static_cast<int>(std::max<std::size_t>(
      1, std::min<std::size_t>(d.batch, kChunkFloats / per_item)));
}

// Runs body(b0, b1) for each chunk [b0, b1) of the batch, the chunks spread over the pool.
template <typename Body>
void for_each_chunk(const ConvDims& d, Body body) {
  const int chunk = batch_chunk(d);
  const std::size_t chunks = (static_cast<std::size_t>(d.batch) + chunk - 1) / chunk;
  parallel_for(chunks, 1, [&](std::size_t lo, std::size_t hi) {
    for (std::size_t c = lo; c < hi; c++) {
      const int b0 = static_cast<int>(c) * chunk;
      body(b0, std::min(d.batch, b0 + chunk));
    }
  });
}

// A 1×1, stride-1, unpadded convolution is a plain matmul over x's rows.
bool is_pointwise(const ConvDims& d) {
  return d.filter_h == 1 && d.filter_w == 1 && d.stride_h == 1 && d.stride_w == 1 &&
         d.pad_top == 0 && d.pad_left == 0 && d.out_h == d.in_h && d.out_w == d.in_w;
}

// cols[n, (i, j, c)] for output rows n = (b, oh, ow) of items [b0, b1): the input under filter
// tap (i, j), zero over the padding.
void im2col(const float* x, float* cols, const ConvDims& d, int b0, int b1) {
  const std::size_t K = patch_size(d);
  const std::size_t C = d.in_c;
  const std::size_t rows = static_cast<std::size_t>(b1 - b0) * rows_per_item(d);
  parallel_for(rows, 64, [&](std::size_t lo, std::size_t hi) {
    for (std::size_t r = lo; r < hi; r++) {
      const int ow = static_cast<int>(r % d.out_w);
      const int oh = static_cast<int>((r / d.out_w) % d.out_h);
      const int b = b0 + static_cast<int>(r / rows_per_item(d));
      float* row = cols + r * K;
      for (int i = 0; i < d.filter_h; i++) {
        const int ih = oh * d.stride_h - d.pad_top + i * d.dilation_h;
        for (int j = 0; j < d.filter_w; j++) {
          float* dst = row + (static_cast<std::size_t>(i) * d.filter_w + j) * C;
          const int iw = ow * d.stride_w - d.pad_left + j * d.dilation_w;
          if (ih < 0 || ih >= d.in_h || iw < 0 || iw >= d.in_w) {
            std::memset(dst, 0, C * sizeof(float));
          } else {
            const float* src =
                x + ((static_cast<std::size_t>(b) * d.in_h + ih) * d.in_w + iw) * C;
            std::memcpy(dst, src, C * sizeof(float));
          }
        }
      }
    }
  });
}

// The adjoint of im2col: dx[b, ih, iw, c] += cols[n, (i, j, c)] (dx is not cleared here). Work is
// split by batch item so that no two threads add into the same image.
void col2im(const float* cols, float* dx, const ConvDims& d, int b0, int b1) {
  const std::size_t K = patch_size(d);
  const std::size_t C = d.in_c;
  parallel_for(static_cast<std::size_t>(b1 - b0), 1, [&](std::size_t lo, std::size_t hi) {
    for (std::size_t item = lo; item < hi; item++) {
      const int b = b0 + static_cast<int>(item);
      float* image = dx + static_cast<std::size_t>(b) * d.in_h * d.in_w * C;
      const float* row = cols + item * rows_per_item(d) * K;
      for (int oh = 0; oh < d.out_h; oh++) {
        for (int ow = 0; ow < d.out_w; ow++, row += K) {
          for (int i = 0; i < d.filter_h; i++) {
            const int ih = oh * d.stride_h - d.pad_top + i * d.dilation_h;
            if (ih < 0 || ih >= d.in_h) continue;
            for (int j = 0; j < d.filter_w; j++) {
              const int iw = ow * d.stride_w - d.pad_left + j * d.dilation_w;
              if (iw < 0 || iw >= d.in_w) continue;
              float* dst = image + (static_cast<std::size_t>(ih) * d.in_w + iw) * C;
              const float* src = row + (static_cast<std::size_t>(i) * d.filter_w + j) * C;
              for (std::size_t c = 0; c < C; c++) dst[c] += src[c];
            }
          }
        }
      }
    }
  });
}

}  // namespace

void conv2d_forward(const float* x, const float* w, float* y, const ConvDims& d) {
  const std::size_t K = patch_size(d);
  const std::size_t per_item = rows_per_item(d);
  if (winograd_conv(x, w, y, d) || direct_conv(x, w, y, d)) return;
  if (is_pointwise(d)) {
    const int rows = static_cast<int>(d.batch * per_item);
    gemm(false, false, rows, d.out_c, static_cast<int>(K),
         x, static_cast<int>(K), w, d.out_c, 0.0f, y, d.out_c);
    return;
  }
  for_each_chunk(d, [&](int b0, int b1) {
    const int rows = static_cast<int>((b1 - b0) * per_item);
    float* cols = scratch(rows * K);
    im2col(x, cols, d, b0, b1);
    gemm(false, false, rows, d.out_c, static_cast<int>(K), cols, static_cast<int>(K), w, d.out_c,
         0.0f, y + b0 * per_item * d.out_c, d.out_c);
  });
}

void conv2d_backprop_filter(const float* x, const float* dy, float* dw, const ConvDims& d) {
  const std::size_t K = patch_size(d);
  const std::size_t per_item = rows_per_item(d);
  if (d.batch == 0 || per_item == 0) {
    std::fill(dw, dw + K * d.out_c, 0.0f);
    return;
  }
  if (winograd_backprop_filter(x, dy, dw, d) || direct_conv_backprop_filter(x, dy, dw, d)) {
    return;
  }
  if (is_pointwise(d)) {
    const int rows = static_cast<int>(d.batch * per_item);
    gemm(true, false, static_cast<int>(K), d.out_c, rows,
         x, static_cast<int>(K), dy, d.out_c, 0.0f, dw, d.out_c);
    return;
  }
  // One partial dw per part (a contiguous range of chunks, one part per thread), summed in part
  // order: the same result for a given number of threads.
  const std::size_t size = K * d.out_c;
  const int chunk = batch_chunk(d);
  const std::size_t chunks = (static_cast<std::size_t>(d.batch) + chunk - 1) / chunk;
  const std::size_t parts = std::min<std::size_t>(pool_threads(), chunks);
  std::vector<float> partials(parts * size, 0.0f);
  parallel_for(parts, 1, [&](std::size_t lo, std::size_t hi) {
    for (std::size_t part = lo; part < hi; part++) {
      float* partial = partials.data() + part * size;
      for (std::size_t c = part * chunks / parts; c < (part + 1) * chunks / parts; c++) {
        const int b0 = static_cast<int>(c) * chunk;
        const int b1 = std::min(d.batch, b0 + chunk);
        const int rows = static_cast<int>((b1 - b0) * per_item);
        float* cols = scratch(rows * K);
        im2col(x, cols, d, b0, b1);
        gemm(true, false, static_cast<int>(K), d.out_c, rows, cols, static_cast<int>(K),
             dy + b0 * per_item * d.out_c, d.out_c, 1.0f, partial, d.out_c);
      }
    }
  });
  std::copy(partials.begin(), partials.begin() + size, dw);
  for (std::size_t part = 1; part < parts; part++) {
    const float* partial = partials.data() + part * size;
    for (std::size_t i = 0; i < size; i++) dw[i] += partial[i];
  }
}

void conv2d_backprop_input(const float* dy, const float* w, float* dx, const ConvDims& d) {
  const std::size_t K = patch_size(d);
  const std::size_t per_item = rows_per_item(d);
  const std::size_t image = static_cast<std::size_t>(d.in_h) * d.in_w * d.in_c;
  if (winograd_backprop_input(dy, w, dx, d) || direct_conv_backprop_input(dy, w, dx, d)) {
    return;
  }
  if (is_pointwise(d)) {
    const int rows = static_cast<int>(d.batch * per_item);
    if (rows > 0) {
      gemm(false, true, rows, static_cast<int>(K), d.out_c,
           dy, d.out_c, w, d.out_c, 0.0f, dx, static_cast<int>(K));
    }
    return;
  }
  std::fill(dx, dx + d.batch * image, 0.0f);
  if (per_item == 0) return;
  for_each_chunk(d, [&](int b0, int b1) {
    const int rows = static_cast<int>((b1 - b0) * per_item);
    float* cols = scratch(rows * K);
    gemm(false, true, rows, static_cast<int>(K), d.out_c, dy + b0 * per_item * d.out_c, d.out_c,
         w, d.out_c, 0.0f, cols, static_cast<int>(K));
    col2im(cols, dx, d, b0, b1);
  });
}

void matmul(const float* a, const float* b, float* c, int batch, int m, int n, int k,
            bool transpose_a, bool transpose_b, std::size_t stride_a, std::size_t stride_b) {
  if (k == 0) {
    std::fill(c, c + static_cast<std::size_t>(batch) * m * n, 0.0f);
    return;
  }
  const int lda = transpose_a ? m : k;
  const int ldb = transpose_b ? k : n;
  const auto product = [&](std::size_t i) {
    gemm(transpose_a, transpose_b, m, n, k, a + i * stride_a, lda, b + i * stride_b, ldb, 0.0f,
         c + i * m * n, n);
  };
  // Many small products (attention-like batches): one thread per range of them; large ones
  // split inside gemm instead.
  const double work = static_cast<double>(m) * n * k;
  const std::size_t grain = work >= (1 << 20) ? batch : std::max(1.0, (1 << 18) / work);
  parallel_for(static_cast<std::size_t>(batch), grain, [&](std::size_t lo, std::size_t hi) {
    for (std::size_t i = lo; i < hi; i++) product(i);
  });
}

void bias_activation(float* y, const float* bias, std::size_t rows, std::size_t cols,
                     int activation) {
  parallel_for(rows, std::max<std::size_t>(1, (std::size_t{1} << 14) / std::max<std::size_t>(1, cols)),
               [&](std::size_t lo, std::size_t hi) {
                 for (std::size_t r = lo; r < hi; r++) {
                   float* row = y + r * cols;
                   if (bias != nullptr) {
                     for (std::size_t c = 0; c < cols; c++) row[c] += bias[c];
                   }
                   if (activation == 1) {
                     for (std::size_t c = 0; c < cols; c++) row[c] = row[c] < 0 ? 0.0f : row[c];  // NaN stays NaN, as in TF.js
                   }
                 }
               });
}

}  // namespace wp
