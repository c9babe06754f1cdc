// The numbers on a plot's axes, without ImGui: which values get a tick, how tick labels read, and how a
// hover read-out prints a value. For the interactive plots of plot.h, and testable on its own.
// Not for: log or date axes, or the SVG plots of qplay-cli (core/engine/report/svg_plot.h has its own
// ticks, which cover the data rather than staying inside a given range).
//
// Every function is total: NaN, infinite, reversed and empty ranges give a sane answer (no ticks, or
// the ordered range), never a crash or an endless loop. Output never depends on the C locale.
#pragma once

#include <string>
#include <vector>

namespace qplay::ui {

struct ValueRange {
  double low = 0, high = 1;
};

// The range an axis can show for values from `low` to `high`: ordered, and widened when flat (±5% of
// the value, ±0.5 around zero) so a constant series still gets an axis. Flat means a span below 1e-9 of
// the values (too narrow to label) or below 1e-200. Not finite: [0, 1].
ValueRange widen_if_flat(double low, double high);

// Tick values step * k for whole k, all inside one range, with step = mantissa * 10^exponent.
struct NiceTicks {
  std::vector<double> values;  // ascending; empty when the range is not finite
  int step_mantissa = 1;       // 1, 2 or 5
  int step_exponent = 0;
  double step() const;
};

// The smallest step in {1, 2, 5} x 10^k that puts at most `max_ticks` ticks inside [low, high] (at
// least 1 tick whenever max_ticks >= 3). max_ticks is clamped to [2, 100]. The range goes through
// widen_if_flat first, so reversed ranges give the same ticks and low == high gets ticks around the
// value; NaN, infinite bounds, or a span that overflows give no ticks.
NiceTicks nice_ticks(double low, double high, int max_ticks);

// One label per tick, all with the decimals the step needs ("0.0", "0.2", ..., "1.0"; "0.80", "0.85").
// Ticks with steps below 1e-5 or values of a million and more switch to one shared mantissa precision
// in scientific notation ("5.0e-6", "1.0e-5"). Zero never reads "-0".
std::vector<std::string> format_tick_labels(const NiceTicks& ticks);

// A value in a tooltip: 4 significant digits without trailing zeros ("0.9123", "12345", "0.5"),
// scientific outside [1e-3, 1e7) ("1.5e-5"), and "NaN", "inf", "-inf" for what is not finite.
std::string format_readout(double value);

}  // namespace qplay::ui
