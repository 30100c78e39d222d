{
  "targets": [
    {
      "target_name": "weight_prediction",
      "sources": [
        "native/addon.cc",
        "native/adam.cc",
        "native/batch_norm.cc",
        "native/causal_softmax.cc",
        "native/conv.cc",
        "native/cross_entropy.cc",
        "native/direct_conv.cc",
        "native/gelu.cc",
        "native/gemm.cc",
        "native/layer_norm.cc",
        "native/lstm.cc",
        "native/max_pool.cc",
        "native/optimizers.cc",
        "native/pool.cc",
        "native/reduce.cc",
        "native/elementwise.cc",
        "native/shortcut.cc",
        "native/stream.cc",
        "native/winograd.cc"
      ],
      "cflags_cc": [
        "-std=c++17",
        "-O3",
        "-march=native",
        "-fno-math-errno",
        "-ffp-contract=off",
        "-pthread"
      ],
      "cflags_cc!": ["-fno-exceptions"],
      "libraries": ["-lopenblas", "-pthread"]
    }
  ]
}
