// What goes on an accuracy-vs-bits card (report/accuracy_card.h) of a run: its settings, its numbers and
// the curve, from the Lab (the playground's "Save card") or from an experiment and a model (qplay-cli
// sweep --card uses the settings rows and the model size).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "core/engine/lab/lab.h"
#include "core/engine/report/accuracy_card.h"

namespace qplay {

// Data set, architecture, method, granularity, range method, weight and activation bits. weight_bits:
// how the weights are rounded as the card's numbers are ("4", or "3,2,3 by layer").
std::vector<CardRow> experiment_card_rows(const Experiment& experiment, std::string_view dataset_name,
                                          std::string_view weight_bits);

// A run's card at the lab's current setting: its test accuracy against weight bits (points evaluated on
// the whole test split only), the float accuracy as a reference line, the settings, and float accuracy,
// accuracy at the current setting, flip rate and low-margin flip rate (lab/decision_flips.h), the model
// size quantized and in float. Numbers not yet known read "not evaluated yet".
AccuracyCard lab_accuracy_card(const Lab& lab, int run);

}  // namespace qplay
