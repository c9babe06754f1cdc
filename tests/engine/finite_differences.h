// What the gradient checks share: seeded random vectors, a central-difference gradient in double
// precision, and the relative error between an analytic and a numeric gradient.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <functional>
#include <vector>

#include "core/engine/base/rng.h"

namespace qplay::finite_differences {

// h of the central differences: truncation error O(h²) ≈ 1e-12, so in double a relative error above
// 1e-6 means a wrong formula, not noise.
constexpr double kStep = 1e-6;

inline std::vector<double> random_vector(size_t n, uint64_t seed, double scale = 1.0) {
  Rng rng(seed);
  std::vector<double> v(n);
  for (double& x : v) x = rng.normal() * scale;
  return v;
}

// max|a-b| / max(1e-3, max|b|) between analytic and numeric gradients.
inline double relative_error(const std::vector<double>& analytic, const std::vector<double>& numeric) {
  double diff = 0, scale = 1e-3;
  for (size_t i = 0; i < analytic.size(); ++i) {
    diff = std::max(diff, std::fabs(analytic[i] - numeric[i]));
    scale = std::max(scale, std::fabs(numeric[i]));
  }
  return diff / scale;
}

// The gradient of f at x by central differences (f(x + h) - f(x - h)) / 2h.
inline std::vector<double> numeric_gradient(std::vector<double> x,
                                            const std::function<double(const std::vector<double>&)>& f) {
  std::vector<double> g(x.size());
  for (size_t i = 0; i < x.size(); ++i) {
    const double saved = x[i];
    x[i] = saved + kStep;
    const double plus = f(x);
    x[i] = saved - kStep;
    const double minus = f(x);
    x[i] = saved;
    g[i] = (plus - minus) / (2 * kStep);
  }
  return g;
}

}  // namespace qplay::finite_differences
