// N-API entry points. Every array argument is a Float32Array (views of the wasm heap or of the
// cpu backend's storage); sizes are checked here so the kernels can trust them.
#include <node_api.h>

#include <cblas.h>

#include <cstddef>
#include <cstdint>
#include <string>

#include "adam.h"
#include "batch_norm.h"
#include "causal_softmax.h"
#include "conv.h"
#include "cross_entropy.h"
#include "max_pool.h"
#include "optimizers.h"
#include "pool.h"
#include "reduce.h"
#include "relu.h"
#include "shortcut.h"
#include "gelu.h"
#include "layer_norm.h"
#include "lstm.h"
#include "stream.h"

namespace {

constexpr std::size_t kMaxArgs = 24;

struct Args {
  napi_env env;
  std::size_t count = kMaxArgs;
  napi_value values[kMaxArgs];
  bool failed = false;

  Args(napi_env e, napi_callback_info info) : env(e) {
    napi_get_cb_info(env, info, &count, values, nullptr, nullptr);
  }

  void Fail(const std::string& message) {
    if (!failed) napi_throw_type_error(env, nullptr, message.c_str());
    failed = true;
  }

  // A Float32Array argument of at least `min_length` elements; null when optional and missing.
  float* Floats(std::size_t i, std::size_t min_length, bool optional = false) {
    if (failed) return nullptr;
    if (i >= count) {
      Fail("weight-prediction native: missing argument " + std::to_string(i));
      return nullptr;
    }
    napi_valuetype type;
    napi_typeof(env, values[i], &type);
    if (optional && (type == napi_null || type == napi_undefined)) return nullptr;
    bool is_typed = false;
    napi_is_typedarray(env, values[i], &is_typed);
    napi_typedarray_type kind;
    std::size_t length = 0;
    void* data = nullptr;
    if (is_typed) {
      napi_get_typedarray_info(env, values[i], &kind, &length, &data, nullptr, nullptr);
    }
    if (!is_typed || kind != napi_float32_array) {
      Fail("weight-prediction native: argument " + std::to_string(i) + " must be a Float32Array");
      return nullptr;
    }
    if (length < min_length) {
      Fail("weight-prediction native: argument " + std::to_string(i) + " has " +
           std::to_string(length) + " floats, needs " + std::to_string(min_length));
      return nullptr;
    }
    return static_cast<float*>(data);
  }

  double Number(std::size_t i) {
    double value = 0;
    if (failed) return value;
    if (i >= count || napi_get_value_double(env, values[i], &value) != napi_ok) {
      Fail("weight-prediction native: argument " + std::to_string(i) + " must be a number");
    }
    return value;
  }

  int Int(std::size_t i) {
    const double value = Number(i);
    if (!failed && (value < 0 || value > INT32_MAX || value != static_cast<int>(value))) {
      Fail("weight-prediction native: argument " + std::to_string(i) +
           " must be a non-negative integer");
    }
    return static_cast<int>(value);
  }

  bool Bool(std::size_t i) {
    bool value = false;
    if (failed) return value;
    if (i >= count || napi_get_value_bool(env, values[i], &value) != napi_ok) {
      Fail("weight-prediction native: argument " + std::to_string(i) + " must be a boolean");
    }
    return value;
  }

  std::size_t Length(std::size_t i) {
    std::size_t length = 0;
    if (!failed && i < count) {
      napi_get_typedarray_info(env, values[i], nullptr, &length, nullptr, nullptr, nullptr);
    }
    return length;
  }
};

// adamUpdate(theta, grad, m, v, vMax | null, gradScale, l2, beta1, beta2, keep, stepSize,
//            invSqrtBc2, epsilon, predicted | null, a, predictScale, predictInvSqrtBc2)
napi_value AdamUpdate(napi_env env, napi_callback_info info) {
  Args args(env, info);
  const std::size_t n = args.Length(0);
  float* theta = args.Floats(0, n);
  float* grad = args.Floats(1, n);
  float* m = args.Floats(2, n);
  float* v = args.Floats(3, n);
  float* v_max = args.Floats(4, n, true);
  wp::AdamUpdateScalars c{args.Number(5),  args.Number(6),  args.Number(7),  args.Number(8),
                          args.Number(9),  args.Number(10), args.Number(11), args.Number(12)};
  float* predicted = args.Floats(13, n, true);
  wp::AdamPredictScalars p{0, 0, 0, c.epsilon};
  if (predicted != nullptr) p = {args.Number(14), args.Number(15), args.Number(16), c.epsilon};
  if (!args.failed) wp::adam_update(theta, grad, m, v, v_max, predicted, n, c, p);
  return nullptr;
}

// adamPredict(theta, predicted, m, v, a, scale, invSqrtBc2, epsilon)
napi_value AdamPredict(napi_env env, napi_callback_info info) {
  Args args(env, info);
  const std::size_t n = args.Length(0);
  const float* theta = args.Floats(0, n);
  float* predicted = args.Floats(1, n);
  const float* m = args.Floats(2, n);
  const float* v = args.Floats(3, n);
  const wp::AdamPredictScalars p{args.Number(4), args.Number(5), args.Number(6), args.Number(7)};
  if (!args.failed) wp::adam_predict(theta, predicted, m, v, n, p);
  return nullptr;
}

// The prediction's a and b at `i`, `i + 1` when `predicted` is non-null (else unread).
wp::LinearPrediction LinearAt(Args& args, const float* predicted, std::size_t i) {
  if (predicted == nullptr) return {0, 0};
  return {args.Number(i), args.Number(i + 1)};
}

// sgdUpdate(theta, grad, slot | null, predicted | null, gradScale, l2, learningRate, momentum,
//           dampening, nesterov, firstStep, a, b)
napi_value SgdUpdate(napi_env env, napi_callback_info info) {
  Args args(env, info);
  const std::size_t n = args.Length(0);
  float* theta = args.Floats(0, n);
  float* grad = args.Floats(1, n);
  float* slot = args.Floats(2, n, true);
  float* predicted = args.Floats(3, n, true);
  const wp::SgdScalars c{args.Number(4), args.Number(5), args.Number(6), args.Number(7),
                         args.Number(8), args.Bool(9),   args.Bool(10)};
  const wp::LinearPrediction p = LinearAt(args, predicted, 11);
  if (!args.failed && c.momentum != 0 && slot == nullptr) {
    args.Fail("weight-prediction native: sgdUpdate with momentum needs the momentum buffer");
  }
  if (!args.failed) wp::sgd_update(theta, grad, slot, predicted, n, c, p);
  return nullptr;
}

// linearPredict(theta, predicted, direction, a, b): predicted = a·θ − b·direction
napi_value LinearPredict(napi_env env, napi_callback_info info) {
  Args args(env, info);
  const std::size_t n = args.Length(0);
  const float* theta = args.Floats(0, n);
  float* predicted = args.Floats(1, n);
  const float* direction = args.Floats(2, n);
  const wp::LinearPrediction p{args.Number(3), args.Number(4)};
  if (!args.failed) wp::linear_predict(theta, predicted, direction, n, p);
  return nullptr;
}

// rmspropUpdate(theta, grad, v, gAvg | null, last | null, predicted | null, gradScale, l2,
//               learningRate, alpha, epsilon, momentum, a, b)
napi_value RmspropUpdate(napi_env env, napi_callback_info info) {
  Args args(env, info);
  const std::size_t n = args.Length(0);
  float* theta = args.Floats(0, n);
  float* grad = args.Floats(1, n);
  float* v = args.Floats(2, n);
  float* g_avg = args.Floats(3, n, true);
  float* last = args.Floats(4, n, true);
  float* predicted = args.Floats(5, n, true);
  const wp::RmspropScalars c{args.Number(6), args.Number(7),  args.Number(8),
                             args.Number(9), args.Number(10), args.Number(11)};
  const wp::LinearPrediction p = LinearAt(args, predicted, 12);
  if (!args.failed && c.momentum != 0 && last == nullptr) {
    args.Fail("weight-prediction native: rmspropUpdate with momentum needs the momentum buffer");
  }
  if (!args.failed) wp::rmsprop_update(theta, grad, v, g_avg, last, predicted, n, c, p);
  return nullptr;
}

// rmspropPredict(theta, predicted, v, gAvg | null, last, momentum, epsilon, a, b)
napi_value RmspropPredict(napi_env env, napi_callback_info info) {
  Args args(env, info);
  const std::size_t n = args.Length(0);
  const float* theta = args.Floats(0, n);
  float* predicted = args.Floats(1, n);
  const float* v = args.Floats(2, n);
  const float* g_avg = args.Floats(3, n, true);
  const float* last = args.Floats(4, n);
  const bool momentum = args.Bool(5);
  const double epsilon = args.Number(6);
  const wp::LinearPrediction p{args.Number(7), args.Number(8)};
  if (!args.failed) wp::rmsprop_predict(theta, predicted, v, g_avg, last, momentum, epsilon, n, p);
  return nullptr;
}

// adaBeliefUpdate(theta, grad, m, s, sMax | null, predicted | null, gradScale, l2, keep,
//                 decoupled, beta1, beta2, epsilon, sqrtBc2, stepSize, a, b, predictSqrtBc2,
//                 predictBc1)
napi_value AdaBeliefUpdate(napi_env env, napi_callback_info info) {
  Args args(env, info);
  const std::size_t n = args.Length(0);
  float* theta = args.Floats(0, n);
  float* grad = args.Floats(1, n);
  float* m = args.Floats(2, n);
  float* s = args.Floats(3, n);
  float* s_max = args.Floats(4, n, true);
  float* predicted = args.Floats(5, n, true);
  wp::AdaBeliefScalars c{args.Number(6),  args.Number(7),  args.Number(8),
                         args.Number(10), args.Number(11), args.Number(12),
                         args.Number(13), args.Number(14), args.Bool(9)};
  wp::AdaBeliefPrediction p{0, 0, 1, 1};
  if (predicted != nullptr) {
    p = {args.Number(15), args.Number(16), args.Number(17), args.Number(18)};
  }
  if (!args.failed) wp::adabelief_update(theta, grad, m, s, s_max, predicted, n, c, p);
  return nullptr;
}

// adaBeliefPredict(theta, predicted, m, s, epsilon, a, b, sqrtBc2, bc1)
napi_value AdaBeliefPredict(napi_env env, napi_callback_info info) {
  Args args(env, info);
  const std::size_t n = args.Length(0);
  const float* theta = args.Floats(0, n);
  float* predicted = args.Floats(1, n);
  const float* m = args.Floats(2, n);
  const float* s = args.Floats(3, n);
  const double epsilon = args.Number(4);
  const wp::AdaBeliefPrediction p{args.Number(5), args.Number(6), args.Number(7), args.Number(8)};
  if (!args.failed) wp::adabelief_predict(theta, predicted, m, s, epsilon, n, p);
  return nullptr;
}

// nadamUpdate(theta, grad, m, v, predicted | null, gradScale, l2, keep, beta1, beta2, bc2,
//             epsilon, onGrad, onMomentum, a, predictScale, predictBc2)
napi_value NAdamUpdate(napi_env env, napi_callback_info info) {
  Args args(env, info);
  const std::size_t n = args.Length(0);
  float* theta = args.Floats(0, n);
  float* grad = args.Floats(1, n);
  float* m = args.Floats(2, n);
  float* v = args.Floats(3, n);
  float* predicted = args.Floats(4, n, true);
  const wp::NAdamScalars c{args.Number(5),  args.Number(6),  args.Number(7),
                           args.Number(8),  args.Number(9),  args.Number(10),
                           args.Number(11), args.Number(12), args.Number(13)};
  wp::NAdamPrediction p{0, 0, 1};
  if (predicted != nullptr) p = {args.Number(14), args.Number(15), args.Number(16)};
  if (!args.failed) wp::nadam_update(theta, grad, m, v, predicted, n, c, p);
  return nullptr;
}

// nadamPredict(theta, predicted, m, v, epsilon, a, scale, bc2)
napi_value NAdamPredict(napi_env env, napi_callback_info info) {
  Args args(env, info);
  const std::size_t n = args.Length(0);
  const float* theta = args.Floats(0, n);
  float* predicted = args.Floats(1, n);
  const float* m = args.Floats(2, n);
  const float* v = args.Floats(3, n);
  const double epsilon = args.Number(4);
  const wp::NAdamPrediction p{args.Number(5), args.Number(6), args.Number(7)};
  if (!args.failed) wp::nadam_predict(theta, predicted, m, v, epsilon, n, p);
  return nullptr;
}

// lionUpdate(theta, grad, m, predicted | null, gradScale, keep, learningRate, beta1, beta2, a, b)
napi_value LionUpdate(napi_env env, napi_callback_info info) {
  Args args(env, info);
  const std::size_t n = args.Length(0);
  float* theta = args.Floats(0, n);
  float* grad = args.Floats(1, n);
  float* m = args.Floats(2, n);
  float* predicted = args.Floats(3, n, true);
  const wp::LionScalars c{args.Number(4), args.Number(5), args.Number(6), args.Number(7),
                          args.Number(8)};
  const wp::LinearPrediction p = LinearAt(args, predicted, 9);
  if (!args.failed) wp::lion_update(theta, grad, m, predicted, n, c, p);
  return nullptr;
}

// lionPredict(theta, predicted, m, a, b): predicted = a·θ − b·sign(m)
napi_value LionPredict(napi_env env, napi_callback_info info) {
  Args args(env, info);
  const std::size_t n = args.Length(0);
  const float* theta = args.Floats(0, n);
  float* predicted = args.Floats(1, n);
  const float* m = args.Floats(2, n);
  const wp::LinearPrediction p{args.Number(3), args.Number(4)};
  if (!args.failed) wp::lion_predict(theta, predicted, m, n, p);
  return nullptr;
}

// sumOfSquares(x): Σx² in float64.
napi_value SumOfSquares(napi_env env, napi_callback_info info) {
  Args args(env, info);
  const std::size_t n = args.Length(0);
  const float* x = args.Floats(0, n);
  if (args.failed) return nullptr;
  napi_value result;
  napi_create_double(env, wp::sum_of_squares(x, n), &result);
  return result;
}

// The 15 integers of ConvDims, in declaration order, starting at argument `first`.
bool ReadConvDims(Args& args, std::size_t first, wp::ConvDims& d) {
  int* fields[] = {&d.batch,    &d.in_h,     &d.in_w,       &d.in_c,       &d.out_h,
                   &d.out_w,    &d.out_c,    &d.filter_h,   &d.filter_w,   &d.stride_h,
                   &d.stride_w, &d.dilation_h, &d.dilation_w, &d.pad_top, &d.pad_left};
  for (std::size_t k = 0; k < 15; k++) *fields[k] = args.Int(first + k);
  return !args.failed;
}

std::size_t Image(const wp::ConvDims& d) {
  return static_cast<std::size_t>(d.batch) * d.in_h * d.in_w * d.in_c;
}
std::size_t Filter(const wp::ConvDims& d) {
  return static_cast<std::size_t>(d.filter_h) * d.filter_w * d.in_c * d.out_c;
}
std::size_t Output(const wp::ConvDims& d) {
  return static_cast<std::size_t>(d.batch) * d.out_h * d.out_w * d.out_c;
}

// conv2dForward(x, w, y, ...dims)
napi_value Conv2dForward(napi_env env, napi_callback_info info) {
  Args args(env, info);
  wp::ConvDims d{};
  if (!ReadConvDims(args, 3, d)) return nullptr;
  float* x = args.Floats(0, Image(d));
  float* w = args.Floats(1, Filter(d));
  float* y = args.Floats(2, Output(d));
  if (!args.failed) wp::conv2d_forward(x, w, y, d);
  return nullptr;
}

// conv2dBackpropFilter(x, dy, dw, ...dims)
napi_value Conv2dBackpropFilter(napi_env env, napi_callback_info info) {
  Args args(env, info);
  wp::ConvDims d{};
  if (!ReadConvDims(args, 3, d)) return nullptr;
  float* x = args.Floats(0, Image(d));
  float* dy = args.Floats(1, Output(d));
  float* dw = args.Floats(2, Filter(d));
  if (!args.failed) wp::conv2d_backprop_filter(x, dy, dw, d);
  return nullptr;
}

// conv2dBackpropInput(dy, w, dx, ...dims)
napi_value Conv2dBackpropInput(napi_env env, napi_callback_info info) {
  Args args(env, info);
  wp::ConvDims d{};
  if (!ReadConvDims(args, 3, d)) return nullptr;
  float* dy = args.Floats(0, Output(d));
  float* w = args.Floats(1, Filter(d));
  float* dx = args.Floats(2, Image(d));
  if (!args.failed) wp::conv2d_backprop_input(dy, w, dx, d);
  return nullptr;
}

// matMul(a, b, c, batchA, batchB, m, n, k, transposeA, transposeB): c has max(batchA, batchB)
// items; an operand with batch 1 is broadcast.
napi_value MatMul(napi_env env, napi_callback_info info) {
  Args args(env, info);
  const int batch_a = args.Int(3), batch_b = args.Int(4);
  const int m = args.Int(5), n = args.Int(6), k = args.Int(7);
  const bool ta = args.Bool(8), tb = args.Bool(9);
  if (args.failed) return nullptr;
  if (batch_a != batch_b && batch_a != 1 && batch_b != 1) {
    args.Fail("weight-prediction native: matMul batch sizes do not broadcast");
    return nullptr;
  }
  const int batch = batch_a > batch_b ? batch_a : batch_b;
  const std::size_t sa = static_cast<std::size_t>(m) * k, sb = static_cast<std::size_t>(k) * n;
  float* a = args.Floats(0, batch_a * sa);
  float* b = args.Floats(1, batch_b * sb);
  float* c = args.Floats(2, static_cast<std::size_t>(batch) * m * n);
  if (!args.failed) {
    wp::matmul(a, b, c, batch, m, n, k, ta, tb, batch_a == 1 ? 0 : sa, batch_b == 1 ? 0 : sb);
  }
  return nullptr;
}

// biasActivation(y, bias | null, rows, cols, activation)
napi_value BiasActivation(napi_env env, napi_callback_info info) {
  Args args(env, info);
  const std::size_t rows = args.Int(2), cols = args.Int(3);
  const int activation = args.Int(4);
  float* y = args.Floats(0, rows * cols);
  float* bias = args.Floats(1, cols, true);
  if (!args.failed) wp::bias_activation(y, bias, rows, cols, activation);
  return nullptr;
}

// reluGrad(dy, x, dx): dx = dy · step(x)
napi_value ReluGrad(napi_env env, napi_callback_info info) {
  Args args(env, info);
  const std::size_t n = args.Length(0);
  const float* dy = args.Floats(0, n);
  const float* x = args.Floats(1, n);
  float* dx = args.Floats(2, n);
  if (!args.failed) wp::relu_grad(dy, x, dx, n);
  return nullptr;
}

// subsamplePad(x, y, batch, height, width, channels, stride, filters): see shortcut.h
// subsamplePadGrad(dy, dx, batch, height, width, channels, stride, filters)
template <bool kGrad>
napi_value SubsamplePadEntry(napi_env env, napi_callback_info info) {
  Args args(env, info);
  const std::size_t batch = args.Int(2), height = args.Int(3), width = args.Int(4),
                    channels = args.Int(5), stride = args.Int(6), filters = args.Int(7);
  if (args.failed) return nullptr;
  if (stride < 1 || filters < channels) {
    args.Fail("weight-prediction native: subsamplePad needs a stride of at least 1 and filters " +
              std::string("at least the input's channels"));
    return nullptr;
  }
  const std::size_t in_size = batch * height * width * channels;
  const std::size_t out_size =
      batch * ((height + stride - 1) / stride) * ((width + stride - 1) / stride) * filters;
  const float* src = args.Floats(0, kGrad ? out_size : in_size);
  float* dst = args.Floats(1, kGrad ? in_size : out_size);
  if (args.failed) return nullptr;
  if (kGrad) {
    wp::subsample_pad_grad(src, dst, batch, height, width, channels, stride, filters);
  } else {
    wp::subsample_pad(src, dst, batch, height, width, channels, stride, filters);
  }
  return nullptr;
}

// gelu(x, y): y = GELU(x)
napi_value Gelu(napi_env env, napi_callback_info info) {
  Args args(env, info);
  const std::size_t n = args.Length(0);
  const float* x = args.Floats(0, n);
  float* y = args.Floats(1, n);
  if (!args.failed) wp::gelu(x, y, n);
  return nullptr;
}

// layerNorm(x, gamma, beta, y, mean, rstd, rows, cols, epsilon)
napi_value LayerNorm(napi_env env, napi_callback_info info) {
  Args args(env, info);
  const std::size_t rows = args.Int(6), cols = args.Int(7);
  const double epsilon = args.Number(8);
  const float* x = args.Floats(0, rows * cols);
  const float* gamma = args.Floats(1, cols);
  const float* beta = args.Floats(2, cols);
  float* y = args.Floats(3, rows * cols);
  float* mean = args.Floats(4, rows);
  float* rstd = args.Floats(5, rows);
  if (!args.failed) wp::layer_norm(x, gamma, beta, y, mean, rstd, rows, cols, epsilon);
  return nullptr;
}

// layerNormGrad(dy, x, gamma, mean, rstd, dx, dgamma, dbeta, rows, cols)
napi_value LayerNormGrad(napi_env env, napi_callback_info info) {
  Args args(env, info);
  const std::size_t rows = args.Int(8), cols = args.Int(9);
  const float* dy = args.Floats(0, rows * cols);
  const float* x = args.Floats(1, rows * cols);
  const float* gamma = args.Floats(2, cols);
  const float* mean = args.Floats(3, rows);
  const float* rstd = args.Floats(4, rows);
  float* dx = args.Floats(5, rows * cols);
  float* dgamma = args.Floats(6, cols);
  float* dbeta = args.Floats(7, cols);
  if (!args.failed) {
    wp::layer_norm_grad(dy, x, gamma, mean, rstd, dx, dgamma, dbeta, rows, cols);
  }
  return nullptr;
}

// causalSoftmax(x, y, matrices, t, scale)
napi_value CausalSoftmax(napi_env env, napi_callback_info info) {
  Args args(env, info);
  const std::size_t matrices = args.Int(2), t = args.Int(3);
  const double scale = args.Number(4);
  const float* x = args.Floats(0, matrices * t * t);
  float* y = args.Floats(1, matrices * t * t);
  if (!args.failed) wp::causal_softmax(x, y, matrices, t, scale);
  return nullptr;
}

// causalSoftmaxGrad(dy, y, dx, matrices, t, scale)
napi_value CausalSoftmaxGrad(napi_env env, napi_callback_info info) {
  Args args(env, info);
  const std::size_t matrices = args.Int(3), t = args.Int(4);
  const double scale = args.Number(5);
  const float* dy = args.Floats(0, matrices * t * t);
  const float* y = args.Floats(1, matrices * t * t);
  float* dx = args.Floats(2, matrices * t * t);
  if (!args.failed) wp::causal_softmax_grad(dy, y, dx, matrices, t, scale);
  return nullptr;
}

// geluGrad(dy, x, dx): dx = dy · GELU'(x)
napi_value GeluGrad(napi_env env, napi_callback_info info) {
  Args args(env, info);
  const std::size_t n = args.Length(0);
  const float* dy = args.Floats(0, n);
  const float* x = args.Floats(1, n);
  float* dx = args.Floats(2, n);
  if (!args.failed) wp::gelu_grad(dy, x, dx, n);
  return nullptr;
}

// lstmForward(xproj, h0, c0, u, out, gates, cells, batch, steps, units): see native/lstm.h
napi_value LstmForward(napi_env env, napi_callback_info info) {
  Args args(env, info);
  const std::size_t b = args.Int(7), t = args.Int(8), h = args.Int(9);
  const float* xproj = args.Floats(0, b * t * 4 * h);
  const float* h0 = args.Floats(1, b * h);
  const float* c0 = args.Floats(2, b * h);
  const float* u = args.Floats(3, h * 4 * h);
  float* out = args.Floats(4, b * (t + 1) * h);
  float* gates = args.Floats(5, b * t * 4 * h);
  float* cells = args.Floats(6, b * t * h);
  if (!args.failed) wp::lstm_forward(xproj, h0, c0, u, out, gates, cells, b, t, h);
  return nullptr;
}

// lstmBackward(dout, gates, cells, out, h0, c0, u, dxproj, dh0, dc0, du, batch, steps, units)
napi_value LstmBackward(napi_env env, napi_callback_info info) {
  Args args(env, info);
  const std::size_t b = args.Int(11), t = args.Int(12), h = args.Int(13);
  const float* dout = args.Floats(0, b * (t + 1) * h);
  const float* gates = args.Floats(1, b * t * 4 * h);
  const float* cells = args.Floats(2, b * t * h);
  const float* out = args.Floats(3, b * (t + 1) * h);
  const float* h0 = args.Floats(4, b * h);
  const float* c0 = args.Floats(5, b * h);
  const float* u = args.Floats(6, h * 4 * h);
  float* dxproj = args.Floats(7, b * t * 4 * h);
  float* dh0 = args.Floats(8, b * h);
  float* dc0 = args.Floats(9, b * h);
  float* du = args.Floats(10, h * 4 * h);
  if (!args.failed) {
    wp::lstm_backward(dout, gates, cells, out, h0, c0, u, dxproj, dh0, dc0, du, b, t, h);
  }
  return nullptr;
}

// maxPoolGrad(x, dy, dx, batch, inH, inW, channels, outH, outW, fH, fW, strideH, strideW,
//             padTop, padLeft)
napi_value MaxPoolGrad(napi_env env, napi_callback_info info) {
  Args args(env, info);
  wp::PoolDims d{args.Int(3),  args.Int(4),  args.Int(5),  args.Int(6),  args.Int(7),
                 args.Int(8),  args.Int(9),  args.Int(10), args.Int(11), args.Int(12),
                 args.Int(13),  args.Int(14)};
  const std::size_t image = static_cast<std::size_t>(d.in_h) * d.in_w * d.channels;
  const std::size_t out_image = static_cast<std::size_t>(d.out_h) * d.out_w * d.channels;
  const float* x = args.Floats(0, d.batch * image);
  const float* dy = args.Floats(1, d.batch * out_image);
  float* dx = args.Floats(2, d.batch * image);
  if (!args.failed && (d.filter_h < 1 || d.filter_w < 1 || d.stride_h < 1 || d.stride_w < 1)) {
    args.Fail("weight-prediction native: maxPoolGrad needs filter and stride sizes of at least 1");
  }
  if (!args.failed && image > INT32_MAX) {
    args.Fail("weight-prediction native: maxPoolGrad takes images of at most 2^31 - 1 floats");
  }
  if (!args.failed) wp::max_pool_grad(x, dy, dx, d);
  return nullptr;
}

// columnSums(x, out, rows, cols, scale): out[c] = scale · Σ_r x[r, c]
napi_value ColumnSums(napi_env env, napi_callback_info info) {
  Args args(env, info);
  const std::size_t rows = args.Int(2), cols = args.Int(3);
  const double scale = args.Number(4);
  float* x = args.Floats(0, rows * cols);
  float* out = args.Floats(1, cols);
  if (!args.failed) wp::column_sums(x, out, rows, cols, scale);
  return nullptr;
}

// batchNormForward(x, gamma, beta, y, mean, variance, rows, channels, epsilon)
napi_value BatchNormForward(napi_env env, napi_callback_info info) {
  Args args(env, info);
  const std::size_t rows = args.Int(6), channels = args.Int(7);
  const double epsilon = args.Number(8);
  float* x = args.Floats(0, rows * channels);
  float* gamma = args.Floats(1, channels);
  float* beta = args.Floats(2, channels);
  float* y = args.Floats(3, rows * channels);
  float* mean = args.Floats(4, channels);
  float* variance = args.Floats(5, channels);
  if (!args.failed) {
    wp::batch_norm_forward(x, gamma, beta, y, mean, variance, rows, channels, epsilon);
  }
  return nullptr;
}

// batchNormBackward(dy, x, mean, variance, gamma, dx, dgamma, dbeta, rows, channels, epsilon)
napi_value BatchNormBackward(napi_env env, napi_callback_info info) {
  Args args(env, info);
  const std::size_t rows = args.Int(8), channels = args.Int(9);
  const double epsilon = args.Number(10);
  float* dy = args.Floats(0, rows * channels);
  float* x = args.Floats(1, rows * channels);
  float* mean = args.Floats(2, channels);
  float* variance = args.Floats(3, channels);
  float* gamma = args.Floats(4, channels);
  float* dx = args.Floats(5, rows * channels);
  float* dgamma = args.Floats(6, channels);
  float* dbeta = args.Floats(7, channels);
  if (!args.failed) {
    wp::batch_norm_backward(dy, x, mean, variance, gamma, dx, dgamma, dbeta, rows, channels,
                            epsilon);
  }
  return nullptr;
}

// Int32Array argument i with at least n elements (null and a thrown TypeError otherwise).
int32_t* Ints(Args& args, std::size_t i, std::size_t n) {
  if (args.failed) return nullptr;
  bool is_typed = false;
  if (i < args.count) napi_is_typedarray(args.env, args.values[i], &is_typed);
  napi_typedarray_type kind = napi_float32_array;
  std::size_t length = 0;
  void* data = nullptr;
  if (is_typed) {
    napi_get_typedarray_info(args.env, args.values[i], &kind, &length, &data, nullptr, nullptr);
  }
  if (!is_typed || kind != napi_int32_array || length < n) {
    args.Fail("weight-prediction native: argument " + std::to_string(i) +
              " must be an Int32Array of at least " + std::to_string(n) + " elements");
    return nullptr;
  }
  return static_cast<int32_t*>(data);
}

// sparseSoftmaxCrossEntropy(logits, labels, lse, rows, classes) → mean loss
napi_value SparseSoftmaxCrossEntropy(napi_env env, napi_callback_info info) {
  Args args(env, info);
  const std::size_t rows = args.Int(3), classes = args.Int(4);
  float* logits = args.Floats(0, rows * classes);
  int32_t* labels = Ints(args, 1, rows);
  float* lse = args.Floats(2, rows);
  if (args.failed) return nullptr;
  napi_value result;
  napi_create_double(env, wp::sparse_softmax_cross_entropy(logits, labels, lse, rows, classes),
                     &result);
  return result;
}

// sparseSoftmaxCrossEntropyGrad(logits, labels, lse, grad, rows, classes, scale)
napi_value SparseSoftmaxCrossEntropyGrad(napi_env env, napi_callback_info info) {
  Args args(env, info);
  const std::size_t rows = args.Int(4), classes = args.Int(5);
  const double scale = args.Number(6);
  float* logits = args.Floats(0, rows * classes);
  int32_t* labels = Ints(args, 1, rows);
  float* lse = args.Floats(2, rows);
  float* grad = args.Floats(3, rows * classes);
  if (!args.failed) {
    wp::sparse_softmax_cross_entropy_grad(logits, labels, lse, grad, rows, classes, scale);
  }
  return nullptr;
}

// streamCopy(a, b): b = a
napi_value StreamCopy(napi_env env, napi_callback_info info) {
  Args args(env, info);
  const std::size_t n = args.Length(0);
  float* a = args.Floats(0, n);
  float* b = args.Floats(1, n);
  if (!args.failed) wp::stream_copy(a, b, n);
  return nullptr;
}

// streamUpdate(a, b, s): a += s·b
napi_value StreamUpdate(napi_env env, napi_callback_info info) {
  Args args(env, info);
  const std::size_t n = args.Length(0);
  float* a = args.Floats(0, n);
  float* b = args.Floats(1, n);
  const float s = static_cast<float>(args.Number(2));
  if (!args.failed) wp::stream_update(a, b, s, n);
  return nullptr;
}

// streamTriad(a, b, c, s): a = b + s·c
napi_value StreamTriad(napi_env env, napi_callback_info info) {
  Args args(env, info);
  const std::size_t n = args.Length(0);
  float* a = args.Floats(0, n);
  float* b = args.Floats(1, n);
  float* c = args.Floats(2, n);
  const float s = static_cast<float>(args.Number(3));
  if (!args.failed) wp::stream_triad(a, b, c, s, n);
  return nullptr;
}

// setThreads(n): the addon's pool uses n threads from now on (OpenBLAS always one, inside them);
// returns threads().
napi_value Threads(napi_env env, napi_callback_info info);
napi_value SetThreads(napi_env env, napi_callback_info info) {
  Args args(env, info);
  const int n = args.Int(0);
  if (args.failed) return nullptr;
  if (n < 1) {
    args.Fail("weight-prediction native: setThreads needs a count of at least 1");
    return nullptr;
  }
  wp::set_pool_threads(n);
  return Threads(env, info);
}

// threads(): the pool's thread count
napi_value Threads(napi_env env, napi_callback_info) {
  napi_value result;
  napi_create_int32(env, wp::pool_threads(), &result);
  return result;
}

}  // namespace

NAPI_MODULE_INIT() {
  // The pool's threads are the only ones: OpenBLAS runs inside them (see gemm.h).
  openblas_set_num_threads(1);
  const napi_property_descriptor functions[] = {
      {"adamUpdate", nullptr, AdamUpdate, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"adamPredict", nullptr, AdamPredict, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"sgdUpdate", nullptr, SgdUpdate, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"linearPredict", nullptr, LinearPredict, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"rmspropUpdate", nullptr, RmspropUpdate, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"rmspropPredict", nullptr, RmspropPredict, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"adaBeliefUpdate", nullptr, AdaBeliefUpdate, nullptr, nullptr, nullptr, napi_default,
       nullptr},
      {"adaBeliefPredict", nullptr, AdaBeliefPredict, nullptr, nullptr, nullptr, napi_default,
       nullptr},
      {"nadamUpdate", nullptr, NAdamUpdate, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"nadamPredict", nullptr, NAdamPredict, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"lionUpdate", nullptr, LionUpdate, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"lionPredict", nullptr, LionPredict, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"sumOfSquares", nullptr, SumOfSquares, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"conv2dForward", nullptr, Conv2dForward, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"conv2dBackpropFilter", nullptr, Conv2dBackpropFilter, nullptr, nullptr, nullptr,
       napi_default, nullptr},
      {"conv2dBackpropInput", nullptr, Conv2dBackpropInput, nullptr, nullptr, nullptr,
       napi_default, nullptr},
      {"matMul", nullptr, MatMul, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"biasActivation", nullptr, BiasActivation, nullptr, nullptr, nullptr, napi_default,
       nullptr},
      {"batchNormForward", nullptr, BatchNormForward, nullptr, nullptr, nullptr, napi_default,
       nullptr},
      {"batchNormBackward", nullptr, BatchNormBackward, nullptr, nullptr, nullptr, napi_default,
       nullptr},
      {"reluGrad", nullptr, ReluGrad, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"subsamplePad", nullptr, SubsamplePadEntry<false>, nullptr, nullptr, nullptr, napi_default,
       nullptr},
      {"subsamplePadGrad", nullptr, SubsamplePadEntry<true>, nullptr, nullptr, nullptr,
       napi_default, nullptr},
      {"gelu", nullptr, Gelu, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"geluGrad", nullptr, GeluGrad, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"layerNorm", nullptr, LayerNorm, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"layerNormGrad", nullptr, LayerNormGrad, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"causalSoftmax", nullptr, CausalSoftmax, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"causalSoftmaxGrad", nullptr, CausalSoftmaxGrad, nullptr, nullptr, nullptr, napi_default,
       nullptr},
      {"lstmForward", nullptr, LstmForward, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"lstmBackward", nullptr, LstmBackward, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"maxPoolGrad", nullptr, MaxPoolGrad, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"columnSums", nullptr, ColumnSums, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"sparseSoftmaxCrossEntropy", nullptr, SparseSoftmaxCrossEntropy, nullptr, nullptr, nullptr,
       napi_default, nullptr},
      {"sparseSoftmaxCrossEntropyGrad", nullptr, SparseSoftmaxCrossEntropyGrad, nullptr, nullptr,
       nullptr, napi_default, nullptr},
      {"streamCopy", nullptr, StreamCopy, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"streamTriad", nullptr, StreamTriad, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"streamUpdate", nullptr, StreamUpdate, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"setThreads", nullptr, SetThreads, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"threads", nullptr, Threads, nullptr, nullptr, nullptr, napi_default, nullptr},
  };
  napi_define_properties(env, exports, sizeof(functions) / sizeof(functions[0]), functions);
  return exports;
}
