// The training methods, each registered once: its name, one-line summary, settings rows, factory and the
// names of the readouts it reports. The experiment's state table lifts the rows into its own (so flags,
// files, the URL hash, the widgets and the JS API know every method's knobs), the experiment makes methods
// through the factories, and the front ends list methods from here. A new method adds its file(s), a member
// of MethodSettings, a MethodKind and its registration, all in this folder.
#pragma once

#include <array>
#include <memory>
#include <span>
#include <string_view>
#include <vector>

#include "core/engine/base/setting_row.h"
#include "core/engine/base/status.h"
#include "core/engine/deploy/post_training.h"
#include "core/engine/methods/cpq_dropbits.h"
#include "core/engine/methods/gradient_l1.h"
#include "core/engine/methods/qreg.h"
#include "core/engine/methods/raq.h"
#include "core/engine/methods/symreg_satnl.h"
#include "core/engine/methods/training_method.h"

namespace qplay {

enum class MethodKind { baseline, qreg, gradl1, symreg, cpq, raq };
constexpr std::array<std::string_view, 6> choice_names(MethodKind) {
  return {"baseline", "qreg", "gradl1", "symreg", "cpq", "raq"};
}

// Every method's knobs, as an experiment holds them (the settings of the methods not chosen wait unused).
struct MethodSettings {
  QregSettings qreg;  // qreg.training: only the bit-widths are knobs; the quantizer is the experiment's
  GradientL1Settings gradl1;
  SymRegSettings symreg;
  CpqSettings cpq;
  RaqSettings raq;

  friend bool operator==(const MethodSettings&, const MethodSettings&) = default;
};

// What a method's factory takes from the rest of the experiment.
struct MethodContext {
  QuantizationSetting quantizer;             // the experiment's grids (granularity, symmetry, range)
  bool starts_from_trained_weights = false;  // init_model or a comparison's checkpoint: RAQ's frozen teacher
};

struct MethodRegistration {
  MethodKind kind;
  std::string_view summary;                        // one sentence for a person choosing a method
  std::vector<SettingRowOf<MethodSettings>> rows;  // group = the method's name
  Result<std::unique_ptr<TrainingMethod>> (*make)(const MethodSettings& settings,
                                                  const MethodContext& context);
  std::vector<std::string_view> readouts;  // the MethodReadout names it reports
};

// In MethodKind order.
std::span<const MethodRegistration> registered_methods();
const MethodRegistration& registration_of(MethodKind kind);

}  // namespace qplay
