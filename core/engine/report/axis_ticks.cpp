// Axis numbers behind axis_ticks.h.
#include "core/engine/report/axis_ticks.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <utility>

#include "core/engine/base/number_format.h"

namespace qplay {
namespace {

constexpr double kEpsilon = std::numeric_limits<double>::epsilon();

// Exact for |exponent| <= 22, and the same bits natively and in WebAssembly, unlike std::pow.
double power_of_ten(int exponent) {
  double power = 1;
  for (int i = 0; i < std::abs(exponent); ++i) power *= 10;
  return exponent >= 0 ? power : 1 / power;
}

// e with 10^e <= value < 10^(e + 1), for finite value > 0; by steps of ten rather than log10, whose
// rounding at exact powers of ten differs between libms.
int decimal_exponent(double value) {
  int exponent = 0;
  double decade = 1;
  while (decade * 10 <= value) decade *= 10, ++exponent;
  while (decade > value) decade /= 10, --exponent;
  return exponent;
}

// Dividing by an exact power of ten gives the double nearest 0.3, where 3 * 0.1 would not.
double tick_value(double index, int mantissa, int exponent) {
  const double multiple = index * mantissa;
  return exponent >= 0 ? multiple * power_of_ten(exponent) : multiple / power_of_ten(-exponent);
}

// "-0.00" -> "0.00": rounding a tiny negative value must not give zero a sign.
std::string drop_sign_of_zero(std::string text) {
  if (text[0] == '-' && text.find_first_not_of("-0.") == std::string::npos) text.erase(0, 1);
  return text;
}

// "1.500" -> "1.5", "3.000" -> "3"; only for read-outs, where ticks keep their shared decimals.
std::string trim_trailing_zeros(std::string text) {
  if (text.find('.') == std::string::npos) return text;
  text.erase(text.find_last_not_of('0') + 1);
  if (text.back() == '.') text.pop_back();
  return text;
}

// printf pads the exponent to two digits: "1.5e-07" -> "1.5e-7", "2e+09" -> "2e9".
std::string compact_exponent(const std::string& text) {
  const size_t e = text.find('e');
  if (e == std::string::npos) return text;
  std::string exponent = text.substr(e + 1);
  const bool negative = exponent[0] == '-';
  exponent.erase(0, exponent.find_first_not_of("+-0"));
  return text.substr(0, e + 1) + (negative ? "-" : "") + (exponent.empty() ? "0" : exponent);
}

// The indices of the first and last tick of one step over the range, as the placement counts them.
struct TickIndices {
  double first = 0, last = -1;
  double count() const { return last - first + 1; }
};

TickIndices tick_indices(const AxisRange& range, double step, TickPlacement placement) {
  // Tolerance for quotients such as 0.3 / 0.1 = 2.9999999999999996, and for limits computed as
  // 0.30000000000000004: a few ulps of the index, and a billionth of a step.
  const double low_index = range.low / step, high_index = range.high / step;
  const double low_tolerance = 1e-9 + 16 * kEpsilon * std::fabs(low_index);
  const double high_tolerance = 1e-9 + 16 * kEpsilon * std::fabs(high_index);
  if (placement == TickPlacement::cover)
    return {std::floor(low_index + low_tolerance), std::ceil(high_index - high_tolerance)};
  return {std::ceil(low_index - low_tolerance), std::floor(high_index + high_tolerance)};
}

}  // namespace

AxisRange widen_if_flat(double low, double high) {
  if (!std::isfinite(low) || !std::isfinite(high)) return {0, 1};
  if (low > high) std::swap(low, high);
  const double magnitude = std::max(std::fabs(low), std::fabs(high));
  const double span = high - low;
  if (span > magnitude * 1e-9 && span > 1e-200) return {low, high};
  const double half = magnitude > 1e-200 ? magnitude * 0.05 : 0.5;
  const double middle = low + span / 2;
  return {middle - half, middle + half};
}

TickCount TickCount::at_most(int max_ticks) {
  max_ticks = std::clamp(max_ticks, 2, 100);
  return {max_ticks, 1, max_ticks};
}

TickCount TickCount::near(int target_count) { return {std::clamp(target_count, 3, 10), 3, 10}; }

double NiceTicks::step() const { return tick_value(1, step_mantissa, step_exponent); }

NiceTicks nice_ticks(double low, double high, TickCount count, TickPlacement placement) {
  NiceTicks ticks;
  if (!std::isfinite(low) || !std::isfinite(high)) return ticks;
  const AxisRange range = widen_if_flat(low, high);
  const double span = range.high - range.low;
  if (!std::isfinite(span)) return ticks;
  count.most = std::clamp(count.most, 1, 100);

  // From a decade below any step that gives at most `most` ticks (so a smaller step always had too many)
  // to steps far beyond the span. Widening keeps span / most at least 1e-9 of the values, so tick indices
  // stay far below 2^53 and count exactly.
  // A count's axis starts at steps of 1.
  const int first_exponent =
      std::max(decimal_exponent(span / count.most) - 1, count.whole_numbers ? 0 : -400);
  TickIndices best_indices;
  bool best_out_of_range = true;
  double best_distance = std::numeric_limits<double>::infinity();
  for (int exponent = first_exponent; exponent <= first_exponent + 3; ++exponent) {
    for (int mantissa : {1, 2, 5}) {
      const TickIndices indices = tick_indices(range, tick_value(1, mantissa, exponent), placement);
      const double tick_count = indices.count();
      const bool out_of_range = tick_count < count.fewest || tick_count > count.most;
      const double distance = std::fabs(tick_count - count.target);
      // Steps grow along the loops, so `<=` settles a tie on the larger step: fewer, rounder ticks.
      if (std::pair(out_of_range, distance) <= std::pair(best_out_of_range, best_distance)) {
        best_indices = indices;
        best_out_of_range = out_of_range;
        best_distance = distance;
        ticks.step_mantissa = mantissa;
        ticks.step_exponent = exponent;
      }
    }
  }
  for (double index = best_indices.first; index <= best_indices.last; ++index) {
    const double value = tick_value(index, ticks.step_mantissa, ticks.step_exponent);
    ticks.values.push_back(placement == TickPlacement::inside ? std::clamp(value, range.low, range.high)
                                                              : value);
  }
  return ticks;
}

std::vector<std::string> format_tick_labels(const NiceTicks& ticks) {
  double largest = 0;
  for (double value : ticks.values) largest = std::max(largest, std::fabs(value));
  const int largest_exponent = largest > 0 ? decimal_exponent(largest) : ticks.step_exponent;
  const bool fixed_point = ticks.step_exponent >= -5 && largest_exponent <= 5;

  std::vector<std::string> labels;
  labels.reserve(ticks.values.size());
  for (double value : ticks.values) {
    if (fixed_point) {
      labels.push_back(drop_sign_of_zero(format_double("%.*f", std::max(0, -ticks.step_exponent), value)));
    } else if (value == 0) {
      labels.push_back("0");
    } else {
      const int precision = std::max(0, largest_exponent - ticks.step_exponent);
      labels.push_back(compact_exponent(format_double("%.*e", precision, value)));
    }
  }
  return labels;
}

std::string format_readout(double value) {
  if (std::isnan(value)) return "NaN";
  if (std::isinf(value)) return value > 0 ? "inf" : "-inf";
  if (value == 0) return "0";
  const double magnitude = std::fabs(value);
  if (magnitude >= 1e-3 && magnitude < 1e7) {
    const int decimals = std::max(0, 3 - decimal_exponent(magnitude));
    return drop_sign_of_zero(trim_trailing_zeros(format_double("%.*f", decimals, value)));
  }
  const std::string text = format_double("%.*e", 3, value);
  const size_t e = text.find('e');
  return compact_exponent(trim_trailing_zeros(text.substr(0, e)) + text.substr(e));
}

}  // namespace qplay
