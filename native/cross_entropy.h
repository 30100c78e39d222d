// Softmax cross-entropy with integer labels over the rows of a [rows, classes] logits array, and
// its gradient, without materialising the one-hot labels or the softmax as separate tensors.
#pragma once
#include <cstddef>
#include <cstdint>

namespace wp {

// Returns the mean over rows of logsumexp(logits[r]) − logits[r, labels[r]] (sums in float64),
// and stores each row's logsumexp in lse. A label outside [0, classes) gives NaN.
double sparse_softmax_cross_entropy(const float* logits, const int32_t* labels, float* lse,
                                    std::size_t rows, std::size_t classes);

// grad[r, c] = scale·(exp(logits[r, c] − lse[r]) − [c == labels[r]]).
void sparse_softmax_cross_entropy_grad(const float* logits, const int32_t* labels,
                                       const float* lse, float* grad, std::size_t rows,
                                       std::size_t classes, double scale);

}  // namespace wp
