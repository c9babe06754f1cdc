// The numbers on a plot's axis, for every plot QPlay draws: the SVG plots of qplay-cli (svg_plot.h) and the
// interactive ImGui plots of core/ui. Which values get a tick, how tick labels read, and how a read-out
// (a hover tooltip) prints a value on an axis. Not for: log or date axes, or explicit ticks a caller names.
//
// One algorithm, two ways to place ticks: covering the range (the first tick <= low, the last >= high, for
// an axis extended to its outer ticks) or inside it (an axis with given or padded limits). Every function
// is total: NaN, infinite, reversed and empty ranges give a sane answer (no ticks, or the ordered range),
// never a crash or an endless loop. Output never depends on the C locale.
#pragma once

#include <string>
#include <vector>

namespace qplay {

struct AxisRange {
  double low = 0, high = 1;
};

// The range an axis can show for values from `low` to `high`: ordered, and widened when flat (±5% of
// the value, ±0.5 around zero) so a constant series still gets an axis. Flat means a span below 1e-9 of
// the values (too narrow to label) or below 1e-200. Not finite: [0, 1].
AxisRange widen_if_flat(double low, double high);

// Where ticks go relative to [low, high].
enum class TickPlacement {
  cover,   // the first tick <= low and the last >= high: the axis is then extended to its outer ticks
  inside,  // every tick within [low, high] (up to rounding, then clamped onto the range)
};

// How many ticks a caller wants. A nice step whose tick count lies in [fewest, most] beats every step whose
// count does not; among those the count nearest `target` wins, and a tie goes to the larger step.
struct TickCount {
  int target = 6;
  int fewest = 3;
  int most = 10;
  bool whole_numbers = false;  // a count (epochs): no step below 1

  // As many ticks as fit, never more than max_ticks (clamped to [2, 100]): for an interactive axis whose
  // labels must not overlap. Gives at least 1 tick inside a range whenever max_ticks >= 3.
  static TickCount at_most(int max_ticks);
  // As close to target_count (clamped to [3, 10]) as the nice steps allow, always 3 to 10 ticks: for a
  // printed plot.
  static TickCount near(int target_count);
};

// Tick values step * k for whole k, with step = mantissa * 10^exponent.
struct NiceTicks {
  std::vector<double> values;  // ascending; empty when the range is not finite
  int step_mantissa = 1;       // 1, 2 or 5
  int step_exponent = 0;
  double step() const;
};

// Ticks at a step in {1, 2, 5} x 10^k chosen by `count` and placed by `placement`. The range goes through
// widen_if_flat first, so reversed ranges give the same ticks and low == high gets ticks around the value;
// NaN, infinite bounds, or a span that overflows give no ticks.
NiceTicks nice_ticks(double low, double high, TickCount count, TickPlacement placement);

// One label per tick, all with the decimals the step needs ("0.0", "0.2", ..., "1.0"; "0.80", "0.85").
// Ticks with steps below 1e-5 or values of a million and more switch to one shared mantissa precision
// in scientific notation ("5.0e-6", "1.0e-5"). Zero never reads "-0".
std::vector<std::string> format_tick_labels(const NiceTicks& ticks);

// A value in a tooltip: 4 significant digits without trailing zeros ("0.9123", "12345", "0.5"),
// scientific outside [1e-3, 1e7) ("1.5e-5"), and "NaN", "inf", "-inf" for what is not finite.
std::string format_readout(double value);

}  // namespace qplay
