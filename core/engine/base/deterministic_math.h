// log, sin and cos built from +, -, *, / and exact operations only, so they return the same bits
// with glibc natively and musl under Emscripten (the C libraries' transcendental functions may
// differ in the last bit, which would make the two builds draw different data from one seed).
// Accurate to a few ulp over the ranges the engine uses; not a general-purpose libm.
// Requires -ffp-contract=off on the including target (set for the engine in CMake).
#pragma once

#include <cmath>

namespace qplay {

inline constexpr double kPi = 3.14159265358979323846;

// Square root is correctly rounded by IEEE 754, so std::sqrt is already deterministic.
inline double deterministic_sqrt(double x) { return std::sqrt(x); }

// Natural log for x > 0: x = m * 2^e with m in [sqrt(1/2), sqrt(2)), then
// log(m) = 2 atanh(s), s = (m - 1) / (m + 1), |s| < 0.172, summed as an odd series.
inline double deterministic_log(double x) {
  int exponent = 0;
  double mantissa = std::frexp(x, &exponent);  // exact: mantissa in [0.5, 1)
  if (mantissa < 0.70710678118654752440) {
    mantissa *= 2.0;
    exponent -= 1;
  }
  double s = (mantissa - 1.0) / (mantissa + 1.0);
  double s2 = s * s;
  double term = s, sum = 0.0;
  for (int k = 1; k <= 25; k += 2) {
    sum += term / k;
    term *= s2;
  }
  constexpr double kLn2Hi = 6.93147180369123816490e-01, kLn2Lo = 1.90821492927058770002e-10;
  return exponent * kLn2Hi + (2.0 * sum + exponent * kLn2Lo);
}

namespace detail {
// Taylor series on |r| <= pi/4 (degree 19 / 18 is below one ulp there).
inline double sin_kernel(double r) {
  double r2 = r * r, term = r, sum = r;
  for (int k = 2; k <= 19; k += 2) {
    term *= -r2 / (k * (k + 1));
    sum += term;
  }
  return sum;
}
inline double cos_kernel(double r) {
  double r2 = r * r, term = 1.0, sum = 1.0;
  for (int k = 1; k <= 18; k += 2) {
    term *= -r2 / (k * (k + 1));
    sum += term;
  }
  return sum;
}
// Cody-Waite reduction: x = quadrant * pi/2 + r. Exact enough for |x| < 1e5.
inline double reduce_half_pi(double x, long& quadrant) {
  constexpr double kHalfPiHi = 1.57079632673412561417e+00, kHalfPiLo = 6.07710050650619224932e-11;
  double k = std::nearbyint(x * (2.0 / kPi));
  quadrant = static_cast<long>(k);
  return (x - k * kHalfPiHi) - k * kHalfPiLo;
}
}  // namespace detail

inline double deterministic_sin(double x) {
  long quadrant = 0;
  double r = detail::reduce_half_pi(x, quadrant);
  switch (quadrant & 3) {
    case 0: return detail::sin_kernel(r);
    case 1: return detail::cos_kernel(r);
    case 2: return -detail::sin_kernel(r);
    default: return -detail::cos_kernel(r);
  }
}

inline double deterministic_cos(double x) {
  long quadrant = 0;
  double r = detail::reduce_half_pi(x, quadrant);
  switch (quadrant & 3) {
    case 0: return detail::cos_kernel(r);
    case 1: return -detail::sin_kernel(r);
    case 2: return -detail::cos_kernel(r);
    default: return detail::sin_kernel(r);
  }
}

}  // namespace qplay
