// The accuracy-vs-bits card: one SVG to put on a slide or ship beside an exported model. It holds the
// plot of test accuracy against weight bits, the settings the model was trained and quantized with
// (data set, architecture, method, granularity, range method, bits per layer) and the key numbers
// (float accuracy, accuracy at the chosen bits, flip rate, model size). The playground fills one from a
// run of its Lab (lab/lab_card.h), qplay-cli sweep from its sweep (--card); this file only lays it out.
// Not for: interactive plots (core/ui) or plots alone (svg_plot.h, which this embeds).
#pragma once

#include <string>
#include <vector>

#include "core/engine/report/svg_plot.h"

namespace qplay {

// One line of the card: "granularity" "per-channel".
struct CardRow {
  std::string name, value;
};

struct AccuracyCard {
  std::string title;              // over everything: "moons, mlp:16,16, baseline"
  LinePlot plot;                  // accuracy against weight bits; its own title stays its own
  std::vector<CardRow> settings;  // the left column under the plot
  std::vector<CardRow> numbers;   // the right column
};

// The whole SVG document: title, the plot, then settings and numbers in two columns under it. As
// svg_plot.h: deterministic, every text XML-escaped.
std::string render_accuracy_card(const AccuracyCard& card);

}  // namespace qplay
