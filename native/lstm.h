// The whole LSTM recurrence of one layer as two kernels, forward and backward (src/kernels/lstm.ts):
// per time step one sgemm for h·U and one elementwise pass over the gates, instead of about a
// dozen TF.js kernels forward and two dozen backward. The gates' σ and tanh run 8 at a time with
// AVX2 (vexp.h's exp8; Cephes tanhf's polynomial near 0), scalar std::exp / std::tanh for the rest.
//
// Layouts (row-major, b batch rows, t steps, H units, gates in the Keras order i, f, g, o):
//   xproj [b, t, 4H]  x·W + bias for every step (the input projection, one matmul outside)
//   h0, c0 [b, H]     the initial state; u [H, 4H] the recurrent kernel
//   out [b, t+1, H]   h_1 … h_t, then c_t (ExplicitStateLstm's output)
//   gates [b, t, 4H]  σ(z_i), σ(z_f), tanh(z_g), σ(z_o) per step, kept for the backward pass
//   cells [b, t, H]   c_1 … c_t, kept for the backward pass
#pragma once

namespace wp {

void lstm_forward(const float* xproj, const float* h0, const float* c0, const float* u,
                  float* out, float* gates, float* cells, int b, int t, int h);

// Back-propagation through the t steps from dout [b, t+1, H] (the gradient of out): writes
// dxproj [b, t, 4H] (the gradient of z, which is that of xproj), dh0, dc0 [b, H] and du [H, 4H].
void lstm_backward(const float* dout, const float* gates, const float* cells, const float* out,
                   const float* h0, const float* c0, const float* u, float* dxproj, float* dh0,
                   float* dc0, float* du, int b, int t, int h);

}  // namespace wp
