// N-API entry points. Every array argument is a Float32Array (views of the wasm heap or of the
// cpu backend's storage); sizes are checked here so the kernels can trust them. Each entry is a
// body reading its arguments through `Args`, wrapped by `Entry` and listed once in the table at
// the end.
#include <node_api.h>

#include <cblas.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <tuple>
#include <type_traits>

#include "adam.h"
#include "batch_norm.h"
#include "causal_softmax.h"
#include "conv.h"
#include "cross_entropy.h"
#include "max_pool.h"
#include "optimizers.h"
#include "pool.h"
#include "reduce.h"
#include "elementwise.h"
#include "shortcut.h"
#include "gelu.h"
#include "layer_norm.h"
#include "lstm.h"
#include "stream.h"

namespace {

constexpr std::size_t kMaxArgs = 24;

// Converts to Field and to no other type, so that a struct's field of another type cannot be
// initialised from it (not even by a narrowing conversion, which GCC only warns about).
template <typename Field>
struct Only {
  Field value;
  template <typename U, typename = std::enable_if_t<std::is_same_v<U, Field>>>
  operator U() const {
    return value;
  }
};

// The call's arguments. The first bad one throws a TypeError naming its position; after that
// every getter returns a dummy and `failed` stays true, so a body reads all it needs and then
// calls its kernel only `if (!args.failed)`.
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
    napi_typedarray_type kind;
    std::size_t length = 0;
    void* data = nullptr;
    if (!Typed(i, kind, length, data) || kind != napi_float32_array) {
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

  // Arguments first, first + 1, …: K Float32Arrays of at least `min_length` elements each.
  template <std::size_t K>
  std::array<float*, K> Floats(std::size_t first, std::size_t min_length) {
    std::array<float*, K> arrays;
    for (std::size_t k = 0; k < K; k++) arrays[k] = Floats(first + k, min_length);
    return arrays;
  }

  // An Int32Array argument of at least `min_length` elements.
  int32_t* Int32s(std::size_t i, std::size_t min_length) {
    if (failed) return nullptr;
    napi_typedarray_type kind;
    std::size_t length = 0;
    void* data = nullptr;
    if (!Typed(i, kind, length, data) || kind != napi_int32_array || length < min_length) {
      Fail("weight-prediction native: argument " + std::to_string(i) +
           " must be an Int32Array of at least " + std::to_string(min_length) + " elements");
      return nullptr;
    }
    return static_cast<int32_t*>(data);
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

  // A struct of only doubles (only ints), its fields from the arguments first, first + 1, … in
  // declaration order, each read by Number (Int). A struct with a field of another type does not
  // compile: the field count is taken from its size, and Only<Field> initialises no other type.
  template <typename T>
  T Numbers(std::size_t first) {
    return Fields<T, double>(first, [this](std::size_t i) { return Number(i); });
  }
  template <typename T>
  T Ints(std::size_t first) {
    return Fields<T, int>(first, [this](std::size_t i) { return Int(i); });
  }

  std::size_t Length(std::size_t i) {
    std::size_t length = 0;
    if (!failed && i < count) {
      napi_get_typedarray_info(env, values[i], nullptr, &length, nullptr, nullptr, nullptr);
    }
    return length;
  }

 private:
  // Whether argument i is a typed array; if so, its kind, length and data.
  bool Typed(std::size_t i, napi_typedarray_type& kind, std::size_t& length, void*& data) {
    bool is_typed = false;
    if (i < count) napi_is_typedarray(env, values[i], &is_typed);
    if (is_typed) {
      napi_get_typedarray_info(env, values[i], &kind, &length, &data, nullptr, nullptr);
    }
    return is_typed;
  }

  template <typename T, typename Field, typename Read>
  T Fields(std::size_t first, Read read) {
    static_assert(std::is_aggregate_v<T> && sizeof(T) % sizeof(Field) == 0);
    std::array<Field, sizeof(T) / sizeof(Field)> fields{};
    for (std::size_t k = 0; k < fields.size(); k++) fields[k] = read(first + k);
    return std::apply([](auto... field) { return T{Only<Field>{field}...}; }, fields);
  }
};

// A body as an N-API function: a body returning void returns undefined to JS, one returning a
// double returns it as a number (or nothing once an argument has failed).
template <auto Body>
napi_value Entry(napi_env env, napi_callback_info info) {
  Args args(env, info);
  if constexpr (std::is_void_v<decltype(Body(args))>) {
    Body(args);
    return nullptr;
  } else {
    const double value = Body(args);
    if (args.failed) return nullptr;
    napi_value result;
    napi_create_double(env, value, &result);
    return result;
  }
}

// adamUpdate(theta, grad, m, v, vMax | null, gradScale, l2, beta1, beta2, keep, stepSize,
//            invSqrtBc2, epsilon, predicted | null, a, predictScale, predictInvSqrtBc2)
void AdamUpdate(Args& args) {
  const std::size_t n = args.Length(0);
  const auto [theta, grad, m, v] = args.Floats<4>(0, n);
  float* v_max = args.Floats(4, n, true);
  const auto c = args.Numbers<wp::AdamUpdateScalars>(5);
  float* predicted = args.Floats(13, n, true);
  wp::AdamPredictScalars p{0, 0, 0, c.epsilon};
  if (predicted != nullptr) p = {args.Number(14), args.Number(15), args.Number(16), c.epsilon};
  if (!args.failed) wp::adam_update(theta, grad, m, v, v_max, predicted, n, c, p);
}

// adamPredict(theta, predicted, m, v, a, scale, invSqrtBc2, epsilon)
void AdamPredict(Args& args) {
  const std::size_t n = args.Length(0);
  const auto [theta, predicted, m, v] = args.Floats<4>(0, n);
  const auto p = args.Numbers<wp::AdamPredictScalars>(4);
  if (!args.failed) wp::adam_predict(theta, predicted, m, v, n, p);
}

// The prediction's a and b from argument `first` on when `predicted` is non-null (else unread).
wp::LinearPrediction LinearAt(Args& args, const float* predicted, std::size_t first) {
  return predicted != nullptr ? args.Numbers<wp::LinearPrediction>(first)
                              : wp::LinearPrediction{0, 0};
}

// sgdUpdate(theta, grad, slot | null, predicted | null, gradScale, l2, learningRate, momentum,
//           dampening, nesterov, firstStep, a, b)
void SgdUpdate(Args& args) {
  const std::size_t n = args.Length(0);
  const auto [theta, grad] = args.Floats<2>(0, n);
  float* slot = args.Floats(2, n, true);
  float* predicted = args.Floats(3, n, true);
  const wp::SgdScalars c{args.Number(4), args.Number(5), args.Number(6), args.Number(7),
                         args.Number(8), args.Bool(9),   args.Bool(10)};
  const wp::LinearPrediction p = LinearAt(args, predicted, 11);
  if (!args.failed && c.momentum != 0 && slot == nullptr) {
    args.Fail("weight-prediction native: sgdUpdate with momentum needs the momentum buffer");
  }
  if (!args.failed) wp::sgd_update(theta, grad, slot, predicted, n, c, p);
}

// linearPredict(theta, predicted, direction, a, b): predicted = a·θ − b·direction
void LinearPredict(Args& args) {
  const std::size_t n = args.Length(0);
  const auto [theta, predicted, direction] = args.Floats<3>(0, n);
  const auto p = args.Numbers<wp::LinearPrediction>(3);
  if (!args.failed) wp::linear_predict(theta, predicted, direction, n, p);
}

// rmspropUpdate(theta, grad, v, gAvg | null, last | null, predicted | null, gradScale, l2,
//               learningRate, alpha, epsilon, momentum, a, b)
void RmspropUpdate(Args& args) {
  const std::size_t n = args.Length(0);
  const auto [theta, grad, v] = args.Floats<3>(0, n);
  float* g_avg = args.Floats(3, n, true);
  float* last = args.Floats(4, n, true);
  float* predicted = args.Floats(5, n, true);
  const auto c = args.Numbers<wp::RmspropScalars>(6);
  const wp::LinearPrediction p = LinearAt(args, predicted, 12);
  if (!args.failed && c.momentum != 0 && last == nullptr) {
    args.Fail("weight-prediction native: rmspropUpdate with momentum needs the momentum buffer");
  }
  if (!args.failed) wp::rmsprop_update(theta, grad, v, g_avg, last, predicted, n, c, p);
}

// rmspropPredict(theta, predicted, v, gAvg | null, last, momentum, epsilon, a, b)
void RmspropPredict(Args& args) {
  const std::size_t n = args.Length(0);
  const auto [theta, predicted, v] = args.Floats<3>(0, n);
  const float* g_avg = args.Floats(3, n, true);
  const float* last = args.Floats(4, n);
  const bool momentum = args.Bool(5);
  const double epsilon = args.Number(6);
  const auto p = args.Numbers<wp::LinearPrediction>(7);
  if (!args.failed) wp::rmsprop_predict(theta, predicted, v, g_avg, last, momentum, epsilon, n, p);
}

// adaBeliefUpdate(theta, grad, m, s, sMax | null, predicted | null, gradScale, l2, keep,
//                 decoupled, beta1, beta2, epsilon, sqrtBc2, stepSize, a, b, predictSqrtBc2,
//                 predictBc1)
void AdaBeliefUpdate(Args& args) {
  const std::size_t n = args.Length(0);
  const auto [theta, grad, m, s] = args.Floats<4>(0, n);
  float* s_max = args.Floats(4, n, true);
  float* predicted = args.Floats(5, n, true);
  const wp::AdaBeliefScalars c{args.Number(6),  args.Number(7),  args.Number(8),
                               args.Number(10), args.Number(11), args.Number(12),
                               args.Number(13), args.Number(14), args.Bool(9)};
  const auto p = predicted != nullptr ? args.Numbers<wp::AdaBeliefPrediction>(15)
                                      : wp::AdaBeliefPrediction{0, 0, 1, 1};
  if (!args.failed) wp::adabelief_update(theta, grad, m, s, s_max, predicted, n, c, p);
}

// adaBeliefPredict(theta, predicted, m, s, epsilon, a, b, sqrtBc2, bc1)
void AdaBeliefPredict(Args& args) {
  const std::size_t n = args.Length(0);
  const auto [theta, predicted, m, s] = args.Floats<4>(0, n);
  const double epsilon = args.Number(4);
  const auto p = args.Numbers<wp::AdaBeliefPrediction>(5);
  if (!args.failed) wp::adabelief_predict(theta, predicted, m, s, epsilon, n, p);
}

// nadamUpdate(theta, grad, m, v, predicted | null, gradScale, l2, keep, beta1, beta2, bc2,
//             epsilon, onGrad, onMomentum, a, predictScale, predictBc2)
void NAdamUpdate(Args& args) {
  const std::size_t n = args.Length(0);
  const auto [theta, grad, m, v] = args.Floats<4>(0, n);
  float* predicted = args.Floats(4, n, true);
  const auto c = args.Numbers<wp::NAdamScalars>(5);
  const auto p = predicted != nullptr ? args.Numbers<wp::NAdamPrediction>(14)
                                      : wp::NAdamPrediction{0, 0, 1};
  if (!args.failed) wp::nadam_update(theta, grad, m, v, predicted, n, c, p);
}

// nadamPredict(theta, predicted, m, v, epsilon, a, scale, bc2)
void NAdamPredict(Args& args) {
  const std::size_t n = args.Length(0);
  const auto [theta, predicted, m, v] = args.Floats<4>(0, n);
  const double epsilon = args.Number(4);
  const auto p = args.Numbers<wp::NAdamPrediction>(5);
  if (!args.failed) wp::nadam_predict(theta, predicted, m, v, epsilon, n, p);
}

// lionUpdate(theta, grad, m, predicted | null, gradScale, keep, learningRate, beta1, beta2, a, b)
void LionUpdate(Args& args) {
  const std::size_t n = args.Length(0);
  const auto [theta, grad, m] = args.Floats<3>(0, n);
  float* predicted = args.Floats(3, n, true);
  const auto c = args.Numbers<wp::LionScalars>(4);
  const wp::LinearPrediction p = LinearAt(args, predicted, 9);
  if (!args.failed) wp::lion_update(theta, grad, m, predicted, n, c, p);
}

// lionPredict(theta, predicted, m, a, b): predicted = a·θ − b·sign(m)
void LionPredict(Args& args) {
  const std::size_t n = args.Length(0);
  const auto [theta, predicted, m] = args.Floats<3>(0, n);
  const auto p = args.Numbers<wp::LinearPrediction>(3);
  if (!args.failed) wp::lion_predict(theta, predicted, m, n, p);
}

// sumOfSquares(x): Σx² in float64.
double SumOfSquares(Args& args) {
  const std::size_t n = args.Length(0);
  const float* x = args.Floats(0, n);
  return args.failed ? 0 : wp::sum_of_squares(x, n);
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

// conv2dForward(x, w, y, ...dims), conv2dBackpropFilter(x, dy, dw, ...dims) and
// conv2dBackpropInput(dy, w, dx, ...dims): `dims` are the 15 integers of ConvDims in declaration
// order, which give the three arrays' sizes.
template <std::size_t (*Size0)(const wp::ConvDims&), std::size_t (*Size1)(const wp::ConvDims&),
          std::size_t (*Size2)(const wp::ConvDims&),
          void (*Kernel)(const float*, const float*, float*, const wp::ConvDims&)>
void Conv(Args& args) {
  const auto d = args.Ints<wp::ConvDims>(3);
  if (args.failed) return;
  const float* in0 = args.Floats(0, Size0(d));
  const float* in1 = args.Floats(1, Size1(d));
  float* out = args.Floats(2, Size2(d));
  if (!args.failed) Kernel(in0, in1, out, d);
}

// matMul(a, b, c, batchA, batchB, m, n, k, transposeA, transposeB): c has max(batchA, batchB)
// items; an operand with batch 1 is broadcast.
void MatMul(Args& args) {
  const int batch_a = args.Int(3), batch_b = args.Int(4);
  const int m = args.Int(5), n = args.Int(6), k = args.Int(7);
  const bool ta = args.Bool(8), tb = args.Bool(9);
  if (args.failed) return;
  if (batch_a != batch_b && batch_a != 1 && batch_b != 1) {
    return args.Fail("weight-prediction native: matMul batch sizes do not broadcast");
  }
  const int batch = batch_a > batch_b ? batch_a : batch_b;
  const std::size_t sa = static_cast<std::size_t>(m) * k, sb = static_cast<std::size_t>(k) * n;
  float* a = args.Floats(0, batch_a * sa);
  float* b = args.Floats(1, batch_b * sb);
  float* c = args.Floats(2, static_cast<std::size_t>(batch) * m * n);
  if (!args.failed) {
    wp::matmul(a, b, c, batch, m, n, k, ta, tb, batch_a == 1 ? 0 : sa, batch_b == 1 ? 0 : sb);
  }
}

// biasActivation(y, bias | null, rows, cols, activation)
void BiasActivation(Args& args) {
  const std::size_t rows = args.Int(2), cols = args.Int(3);
  const int activation = args.Int(4);
  float* y = args.Floats(0, rows * cols);
  float* bias = args.Floats(1, cols, true);
  if (!args.failed) wp::bias_activation(y, bias, rows, cols, activation);
}

// relu(x, y): y = max(0, x)
void Relu(Args& args) {
  const std::size_t n = args.Length(0);
  const auto [x, y] = args.Floats<2>(0, n);
  if (!args.failed) wp::relu(x, y, n);
}

// reluGrad(dy, x, dx): dx = dy · step(x)
void ReluGrad(Args& args) {
  const std::size_t n = args.Length(0);
  const auto [dy, x, dx] = args.Floats<3>(0, n);
  if (!args.failed) wp::relu_grad(dy, x, dx, n);
}

// add(a, b, c): c = a + b, all of one length
void Add(Args& args) {
  const std::size_t n = args.Length(0);
  const auto [a, b, c] = args.Floats<3>(0, n);
  if (!args.failed) wp::add(a, b, c, n);
}

// subsamplePad(x, y, batch, height, width, channels, stride, filters): see shortcut.h
// subsamplePadGrad(dy, dx, batch, height, width, channels, stride, filters)
template <bool kGrad>
void SubsamplePad(Args& args) {
  const std::size_t batch = args.Int(2), height = args.Int(3), width = args.Int(4),
                    channels = args.Int(5), stride = args.Int(6), filters = args.Int(7);
  if (args.failed) return;
  if (stride < 1 || filters < channels) {
    return args.Fail("weight-prediction native: subsamplePad needs a stride of at least 1 and " +
                     std::string("filters at least the input's channels"));
  }
  const std::size_t in_size = batch * height * width * channels;
  const std::size_t out_size =
      batch * ((height + stride - 1) / stride) * ((width + stride - 1) / stride) * filters;
  const float* src = args.Floats(0, kGrad ? out_size : in_size);
  float* dst = args.Floats(1, kGrad ? in_size : out_size);
  if (args.failed) return;
  if (kGrad) {
    wp::subsample_pad_grad(src, dst, batch, height, width, channels, stride, filters);
  } else {
    wp::subsample_pad(src, dst, batch, height, width, channels, stride, filters);
  }
}

// gelu(x, y): y = GELU(x)
void Gelu(Args& args) {
  const std::size_t n = args.Length(0);
  const auto [x, y] = args.Floats<2>(0, n);
  if (!args.failed) wp::gelu(x, y, n);
}

// geluGrad(dy, x, dx): dx = dy · GELU'(x)
void GeluGrad(Args& args) {
  const std::size_t n = args.Length(0);
  const auto [dy, x, dx] = args.Floats<3>(0, n);
  if (!args.failed) wp::gelu_grad(dy, x, dx, n);
}

// layerNorm(x, gamma, beta, y, mean, rstd, rows, cols, epsilon)
void LayerNorm(Args& args) {
  const std::size_t rows = args.Int(6), cols = args.Int(7);
  const double epsilon = args.Number(8);
  const float* x = args.Floats(0, rows * cols);
  const auto [gamma, beta] = args.Floats<2>(1, cols);
  float* y = args.Floats(3, rows * cols);
  const auto [mean, rstd] = args.Floats<2>(4, rows);
  if (!args.failed) wp::layer_norm(x, gamma, beta, y, mean, rstd, rows, cols, epsilon);
}

// layerNormGrad(dy, x, gamma, mean, rstd, dx, dgamma, dbeta, rows, cols)
void LayerNormGrad(Args& args) {
  const std::size_t rows = args.Int(8), cols = args.Int(9);
  const auto [dy, x] = args.Floats<2>(0, rows * cols);
  const float* gamma = args.Floats(2, cols);
  const auto [mean, rstd] = args.Floats<2>(3, rows);
  float* dx = args.Floats(5, rows * cols);
  const auto [dgamma, dbeta] = args.Floats<2>(6, cols);
  if (!args.failed) {
    wp::layer_norm_grad(dy, x, gamma, mean, rstd, dx, dgamma, dbeta, rows, cols);
  }
}

// causalSoftmax(x, y, matrices, t, scale)
void CausalSoftmax(Args& args) {
  const std::size_t matrices = args.Int(2), t = args.Int(3);
  const double scale = args.Number(4);
  const auto [x, y] = args.Floats<2>(0, matrices * t * t);
  if (!args.failed) wp::causal_softmax(x, y, matrices, t, scale);
}

// causalSoftmaxGrad(dy, y, dx, matrices, t, scale)
void CausalSoftmaxGrad(Args& args) {
  const std::size_t matrices = args.Int(3), t = args.Int(4);
  const double scale = args.Number(5);
  const auto [dy, y, dx] = args.Floats<3>(0, matrices * t * t);
  if (!args.failed) wp::causal_softmax_grad(dy, y, dx, matrices, t, scale);
}

// lstmForward(xproj, h0, c0, u, out, gates, cells, batch, steps, units): see native/lstm.h
void LstmForward(Args& args) {
  const std::size_t b = args.Int(7), t = args.Int(8), h = args.Int(9);
  const float* xproj = args.Floats(0, b * t * 4 * h);
  const auto [h0, c0] = args.Floats<2>(1, b * h);
  const float* u = args.Floats(3, h * 4 * h);
  float* out = args.Floats(4, b * (t + 1) * h);
  float* gates = args.Floats(5, b * t * 4 * h);
  float* cells = args.Floats(6, b * t * h);
  if (!args.failed) wp::lstm_forward(xproj, h0, c0, u, out, gates, cells, b, t, h);
}

// lstmBackward(dout, gates, cells, out, h0, c0, u, dxproj, dh0, dc0, du, batch, steps, units)
void LstmBackward(Args& args) {
  const std::size_t b = args.Int(11), t = args.Int(12), h = args.Int(13);
  const float* dout = args.Floats(0, b * (t + 1) * h);
  const float* gates = args.Floats(1, b * t * 4 * h);
  const float* cells = args.Floats(2, b * t * h);
  const float* out = args.Floats(3, b * (t + 1) * h);
  const auto [h0, c0] = args.Floats<2>(4, b * h);
  const float* u = args.Floats(6, h * 4 * h);
  float* dxproj = args.Floats(7, b * t * 4 * h);
  const auto [dh0, dc0] = args.Floats<2>(8, b * h);
  float* du = args.Floats(10, h * 4 * h);
  if (!args.failed) {
    wp::lstm_backward(dout, gates, cells, out, h0, c0, u, dxproj, dh0, dc0, du, b, t, h);
  }
}

// maxPoolGrad(x, dy, dx, batch, inH, inW, channels, outH, outW, fH, fW, strideH, strideW,
//             padTop, padLeft)
void MaxPoolGrad(Args& args) {
  const auto d = args.Ints<wp::PoolDims>(3);
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
}

// columnSums(x, out, rows, cols, scale): out[c] = scale · Σ_r x[r, c]
void ColumnSums(Args& args) {
  const std::size_t rows = args.Int(2), cols = args.Int(3);
  const double scale = args.Number(4);
  float* x = args.Floats(0, rows * cols);
  float* out = args.Floats(1, cols);
  if (!args.failed) wp::column_sums(x, out, rows, cols, scale);
}

// batchNormForward(x, gamma, beta, y, mean, variance, rows, channels, epsilon)
void BatchNormForward(Args& args) {
  const std::size_t rows = args.Int(6), channels = args.Int(7);
  const double epsilon = args.Number(8);
  float* x = args.Floats(0, rows * channels);
  const auto [gamma, beta] = args.Floats<2>(1, channels);
  float* y = args.Floats(3, rows * channels);
  const auto [mean, variance] = args.Floats<2>(4, channels);
  if (!args.failed) {
    wp::batch_norm_forward(x, gamma, beta, y, mean, variance, rows, channels, epsilon);
  }
}

// batchNormBackward(dy, x, mean, variance, gamma, dx, dgamma, dbeta, rows, channels, epsilon)
void BatchNormBackward(Args& args) {
  const std::size_t rows = args.Int(8), channels = args.Int(9);
  const double epsilon = args.Number(10);
  const auto [dy, x] = args.Floats<2>(0, rows * channels);
  const auto [mean, variance, gamma] = args.Floats<3>(2, channels);
  float* dx = args.Floats(5, rows * channels);
  const auto [dgamma, dbeta] = args.Floats<2>(6, channels);
  if (!args.failed) {
    wp::batch_norm_backward(dy, x, mean, variance, gamma, dx, dgamma, dbeta, rows, channels,
                            epsilon);
  }
}

// sparseSoftmaxCrossEntropy(logits, labels, lse, rows, classes) → mean loss
double SparseSoftmaxCrossEntropy(Args& args) {
  const std::size_t rows = args.Int(3), classes = args.Int(4);
  float* logits = args.Floats(0, rows * classes);
  int32_t* labels = args.Int32s(1, rows);
  float* lse = args.Floats(2, rows);
  return args.failed ? 0 : wp::sparse_softmax_cross_entropy(logits, labels, lse, rows, classes);
}

// sparseSoftmaxCrossEntropyGrad(logits, labels, lse, grad, rows, classes, scale)
void SparseSoftmaxCrossEntropyGrad(Args& args) {
  const std::size_t rows = args.Int(4), classes = args.Int(5);
  const double scale = args.Number(6);
  float* logits = args.Floats(0, rows * classes);
  int32_t* labels = args.Int32s(1, rows);
  float* lse = args.Floats(2, rows);
  float* grad = args.Floats(3, rows * classes);
  if (!args.failed) {
    wp::sparse_softmax_cross_entropy_grad(logits, labels, lse, grad, rows, classes, scale);
  }
}

// streamCopy(a, b): b = a
void StreamCopy(Args& args) {
  const std::size_t n = args.Length(0);
  const auto [a, b] = args.Floats<2>(0, n);
  if (!args.failed) wp::stream_copy(a, b, n);
}

// streamUpdate(a, b, s): a += s·b
void StreamUpdate(Args& args) {
  const std::size_t n = args.Length(0);
  const auto [a, b] = args.Floats<2>(0, n);
  const float s = static_cast<float>(args.Number(2));
  if (!args.failed) wp::stream_update(a, b, s, n);
}

// streamTriad(a, b, c, s): a = b + s·c
void StreamTriad(Args& args) {
  const std::size_t n = args.Length(0);
  const auto [a, b, c] = args.Floats<3>(0, n);
  const float s = static_cast<float>(args.Number(3));
  if (!args.failed) wp::stream_triad(a, b, c, s, n);
}

// threads(): the pool's thread count
napi_value Threads(napi_env env, napi_callback_info) {
  napi_value result;
  napi_create_int32(env, wp::pool_threads(), &result);
  return result;
}

// setThreads(n): the addon's pool uses n threads from now on (OpenBLAS always one, inside them);
// returns threads().
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

constexpr napi_property_descriptor Function(const char* name, napi_callback callback) {
  return {name, nullptr, callback, nullptr, nullptr, nullptr, napi_default, nullptr};
}

}  // namespace

NAPI_MODULE_INIT() {
  // The pool's threads are the only ones: OpenBLAS runs inside them (see gemm.h).
  openblas_set_num_threads(1);
  const napi_property_descriptor functions[] = {
      Function("adamUpdate", Entry<AdamUpdate>),
      Function("adamPredict", Entry<AdamPredict>),
      Function("sgdUpdate", Entry<SgdUpdate>),
      Function("linearPredict", Entry<LinearPredict>),
      Function("rmspropUpdate", Entry<RmspropUpdate>),
      Function("rmspropPredict", Entry<RmspropPredict>),
      Function("adaBeliefUpdate", Entry<AdaBeliefUpdate>),
      Function("adaBeliefPredict", Entry<AdaBeliefPredict>),
      Function("nadamUpdate", Entry<NAdamUpdate>),
      Function("nadamPredict", Entry<NAdamPredict>),
      Function("lionUpdate", Entry<LionUpdate>),
      Function("lionPredict", Entry<LionPredict>),
      Function("sumOfSquares", Entry<SumOfSquares>),
      Function("conv2dForward", Entry<Conv<Image, Filter, Output, wp::conv2d_forward>>),
      Function("conv2dBackpropFilter",
               Entry<Conv<Image, Output, Filter, wp::conv2d_backprop_filter>>),
      Function("conv2dBackpropInput",
               Entry<Conv<Output, Filter, Image, wp::conv2d_backprop_input>>),
      Function("matMul", Entry<MatMul>),
      Function("biasActivation", Entry<BiasActivation>),
      Function("batchNormForward", Entry<BatchNormForward>),
      Function("batchNormBackward", Entry<BatchNormBackward>),
      Function("relu", Entry<Relu>),
      Function("reluGrad", Entry<ReluGrad>),
      Function("add", Entry<Add>),
      Function("subsamplePad", Entry<SubsamplePad<false>>),
      Function("subsamplePadGrad", Entry<SubsamplePad<true>>),
      Function("gelu", Entry<Gelu>),
      Function("geluGrad", Entry<GeluGrad>),
      Function("layerNorm", Entry<LayerNorm>),
      Function("layerNormGrad", Entry<LayerNormGrad>),
      Function("causalSoftmax", Entry<CausalSoftmax>),
      Function("causalSoftmaxGrad", Entry<CausalSoftmaxGrad>),
      Function("lstmForward", Entry<LstmForward>),
      Function("lstmBackward", Entry<LstmBackward>),
      Function("maxPoolGrad", Entry<MaxPoolGrad>),
      Function("columnSums", Entry<ColumnSums>),
      Function("sparseSoftmaxCrossEntropy", Entry<SparseSoftmaxCrossEntropy>),
      Function("sparseSoftmaxCrossEntropyGrad", Entry<SparseSoftmaxCrossEntropyGrad>),
      Function("streamCopy", Entry<StreamCopy>),
      Function("streamTriad", Entry<StreamTriad>),
      Function("streamUpdate", Entry<StreamUpdate>),
      Function("setThreads", SetThreads),
      Function("threads", Threads),
  };
  napi_define_properties(env, exports, sizeof(functions) / sizeof(functions[0]), functions);
  return exports;
}
