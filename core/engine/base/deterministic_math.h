// log, exp, sin, cos and their relatives built from +, -, *, / and exact operations only, so they
// return the same bits with glibc natively and musl under Emscripten (the C libraries' transcendental
// functions may differ in the last bit, which would make the two builds draw different data from one
// seed, and train to different weights). Training uses them wherever a float result feeds the
// weights (softmax, the learning-rate schedule, Adam's bias correction, tanh and softplus layers,
// CPQ's gates): with the reference kernels a native run then equals the browser's bit for bit.
// Accurate to a few ulp over the ranges the engine uses; not a general-purpose libm.
// Requires -ffp-contract=off on the including target (set for the engine in CMake).
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>

namespace qplay {

inline constexpr double kPi = 3.14159265358979323846;

// Square root is correctly rounded by IEEE 754, so std::sqrt is already deterministic.
inline double deterministic_sqrt(double x) { return std::sqrt(x); }

// Natural log for x > 0: x = m * 2^e with m in [sqrt(1/2), sqrt(2)), then
// log(m) = 2 atanh(s), s = (m - 1) / (m + 1), |s| < 0.172, summed as an odd series.
inline double deterministic_log(double x) {
  if (!(x > 0.0) || x == HUGE_VAL) return x == 0.0 ? -HUGE_VAL : x == HUGE_VAL ? x : std::nan("");
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

// e^x: x = k ln2 + r with |r| <= ln2/2, e^r by its Taylor series (degree 13: terms below 1e-17),
// times 2^k (ldexp is exact, or correctly rounded into the subnormals).
inline double deterministic_exp(double x) {
  if (x != x) return x;
  if (x > 709.782712893384) return HUGE_VAL;
  if (x < -745.2) return 0.0;
  constexpr double kLn2Hi = 6.93147180369123816490e-01, kLn2Lo = 1.90821492927058770002e-10;
  const double k = std::nearbyint(x * 1.44269504088896338700);
  const double r = (x - k * kLn2Hi) - k * kLn2Lo;
  // Horner from the smallest term: 1 + r(1 + r/2(1 + r/3(...))).
  double sum = 1.0;
  for (int n = 13; n >= 1; --n) sum = 1.0 + sum * r / n;
  return std::ldexp(sum, static_cast<int>(k));
}

// e^x - 1, accurate near 0 (its series there; |x| < 0.5 needs 25 terms for 1e-17).
inline double deterministic_expm1(double x) {
  if (!(x > -0.5 && x < 0.5)) return deterministic_exp(x) - 1.0;
  double sum = 1.0;  // x(1 + x/2(1 + x/3(...)))
  for (int n = 25; n >= 2; --n) sum = 1.0 + sum * x / n;
  return x * sum;
}

// log(1 + x) for x > -1, accurate near 0: 2 atanh(s), s = x / (2 + x), |s| < 1/3 for |x| < 0.5.
inline double deterministic_log1p(double x) {
  if (!(x > -0.5 && x < 0.5)) return deterministic_log(1.0 + x);
  const double s = x / (2.0 + x), s2 = s * s;
  double sum = 1.0 / 37;  // s(1 + s²/3 + s⁴/5 + ...), from the smallest term
  for (int k = 35; k >= 1; k -= 2) sum = 1.0 / k + s2 * sum;
  return 2.0 * s * sum;
}

// tanh(x) = t / (t + 2) with t = e^{2|x|} - 1, signed; exact to a few ulp, 1 beyond |x| = 20.
inline double deterministic_tanh(double x) {
  if (x != x) return x;
  const double magnitude = std::fabs(x);
  if (magnitude > 20.0) return std::copysign(1.0, x);
  const double t = deterministic_expm1(2.0 * magnitude);
  return std::copysign(t / (t + 2.0), x);
}

// atanh(x) = log1p(2x / (1 - x)) / 2 for |x| < 1, signed.
inline double deterministic_atanh(double x) {
  const double magnitude = std::fabs(x);
  return std::copysign(0.5 * deterministic_log1p(2.0 * magnitude / (1.0 - magnitude)), x);
}

// base^n for a whole n, by repeated squaring (a few roundings, the same everywhere).
inline double deterministic_pow(double base, long n) {
  const bool invert = n < 0;
  unsigned long remaining = invert ? 0UL - static_cast<unsigned long>(n) : static_cast<unsigned long>(n);
  double result = 1.0;
  while (remaining > 0) {
    if (remaining & 1) result *= base;
    base *= base;
    remaining >>= 1;
  }
  return invert ? 1.0 / result : result;
}

// For code templated on float and double: float goes through the functions above (the same bits in
// every build), double keeps libm's (the double-precision gradient checks and PyTorch goldens).
inline float portable_exp(float x) { return static_cast<float>(deterministic_exp(x)); }
inline double portable_exp(double x) { return std::exp(x); }
inline float portable_expm1(float x) { return static_cast<float>(deterministic_expm1(x)); }
inline double portable_expm1(double x) { return std::expm1(x); }
inline float portable_log(float x) { return static_cast<float>(deterministic_log(x)); }
inline double portable_log(double x) { return std::log(x); }
inline float portable_log1p(float x) { return static_cast<float>(deterministic_log1p(x)); }
inline double portable_log1p(double x) { return std::log1p(x); }
inline float portable_tanh(float x) { return static_cast<float>(deterministic_tanh(x)); }
inline double portable_tanh(double x) { return std::tanh(x); }
inline float portable_atanh(float x) { return static_cast<float>(deterministic_atanh(x)); }
inline double portable_atanh(double x) { return std::atanh(x); }

namespace detail {
// 2^k for -126 <= k <= 127 by writing k into the exponent bits (memcpy rather than std::bit_cast,
// which Emscripten's C++ library lacks).
__attribute__((always_inline)) inline float float_power_of_two(int32_t k) {
  const uint32_t bits = static_cast<uint32_t>(k + 127) << 23;
  float value;
  std::memcpy(&value, &bits, sizeof value);
  return value;
}
}  // namespace detail

// e^x for loops that must vectorize, in float from + - * / and exponent-bit writes only (no library
// call, no branch): deterministic_exp rounds and scales through libm calls, one per element. Cephes'
// expf: e^x = 2^n e^r with n = round(x/ln 2) (by the 1.5·2^23 trick, ties to even), r = x - n ln 2 in
// two parts (Cody-Waite) so |r| <= ln 2 / 2, e^r by its minimax polynomial, and 2^n written into the
// exponent bits of two factors 2^{n/2} (both normal down to n = -252, so results below the normal
// range round to subnormals and 0 as a libm's do). For -170 <= x <= 88; measured over every float x in
// [-87, 0]: within 0.99 ulp (std::exp: 0.51). Forced inline: a caller's AVX2 clone vectorizes only
// what is inlined into it (CPQ's backward ran 30 times slower when GCC left this out of line).
// Double keeps libm's, as portable_exp does.
__attribute__((always_inline)) inline float portable_exp_vectorizable(float x) {
  constexpr float kLog2E = 1.44269504088896341f, kLn2High = 0.693359375f, kLn2Low = -2.12194440e-4f;
  constexpr float kRoundingShift = 12582912.0f;  // 1.5·2^23: x + it has no fraction bits left
  const float n = (x * kLog2E + kRoundingShift) - kRoundingShift;
  const float r = (x - n * kLn2High) - n * kLn2Low;
  float polynomial = 1.9875691500e-4f;  // e^r = 1 + r + r² P(r), P by Horner
  polynomial = polynomial * r + 1.3981999507e-3f;
  polynomial = polynomial * r + 8.3334519073e-3f;
  polynomial = polynomial * r + 4.1665795894e-2f;
  polynomial = polynomial * r + 1.6666665459e-1f;
  polynomial = polynomial * r + 5.0000001201e-1f;
  const float exp_r = polynomial * (r * r) + r + 1.0f;
  const int32_t power = static_cast<int32_t>(n), half_power = power >> 1;
  return exp_r * detail::float_power_of_two(half_power) * detail::float_power_of_two(power - half_power);
}
inline double portable_exp_vectorizable(double x) { return std::exp(x); }

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
    case 0:
      return detail::sin_kernel(r);
    case 1:
      return detail::cos_kernel(r);
    case 2:
      return -detail::sin_kernel(r);
    default:
      return -detail::cos_kernel(r);
  }
}

inline double deterministic_cos(double x) {
  long quadrant = 0;
  double r = detail::reduce_half_pi(x, quadrant);
  switch (quadrant & 3) {
    case 0:
      return detail::cos_kernel(r);
    case 1:
      return -detail::sin_kernel(r);
    case 2:
      return -detail::cos_kernel(r);
    default:
      return detail::sin_kernel(r);
  }
}

}  // namespace qplay
