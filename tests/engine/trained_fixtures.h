// What several tests start from: a run trained to its last epoch, and a small lab of two runs on moons.
#pragma once

#include <gtest/gtest.h>

#include <memory>

#include "core/engine/experiment/run.h"
#include "core/engine/lab/lab.h"

namespace qplay {

// The experiment's run, trained to the end (a failure to start is a test failure).
inline Run trained_run(const Experiment& experiment) {
  Result<Run> run = start_run(experiment);
  EXPECT_TRUE(run.ok()) << run.message();
  while (!run->trainer->finished()) run->trainer->advance(1000);
  return std::move(run).value();
}

// The default lab with baseline and gradient-l1 side by side on 300 moons points, mlp:8, untrained.
inline std::unique_ptr<Lab> small_moons_lab(int epochs) {
  LabState state = default_lab_state();
  state.methods = {"baseline", "gradl1"};
  state.experiment.dataset = DatasetChoice::moons;
  state.experiment.samples = 300;
  state.experiment.architecture = "mlp:8";
  state.experiment.epochs = epochs;
  state.experiment.kernels = KernelChoice::reference;
  state.experiment.threads = 1;
  Result<std::unique_ptr<Lab>> lab = Lab::create(state);
  EXPECT_TRUE(lab.ok()) << lab.message();
  return std::move(lab).value();
}

}  // namespace qplay
