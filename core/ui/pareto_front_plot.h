// The sensitivity tab's Pareto fronts (issue 17): test accuracy against model size (KB) of each
// allocation method's bits at budgets 2, 2.5, ..., 8 bits per weight, for the selected run, computed by
// the lab's allocation job (lab/lab_allocation.h) in time slices and drawn as the points arrive. Each
// method's front points are joined, its dominated points faint; the current model is a marked point and
// the budget slider's budget a vertical line. A click on a point applies that allocation's bits. Fronts of
// weights the run has moved on from are greyed and say which weights they are of.
#pragma once

#include <functional>
#include <string>

#include <imgui.h>

#include "core/ui/playground_state.h"

namespace qplay::ui {

// Which weights an allocation is of, in words: "weights at step 233 (0 epochs done)".
std::string weights_label(int epoch, long steps);

// Asks the lab for the selected run's fronts, replacing any allocation job; training pauses, for the fronts
// are of one set of weights (a training step would cancel them). They are shown in the bars' place.
// Errors go to the status bar.
void start_pareto_fronts(PlaygroundState& state);
// Copies the lab's fronts job (work.job->computes_fronts()) into state.pareto_fronts.
void copy_pareto_fronts(PlaygroundState& state, const LabAllocationWork& work);
// Whether the fronts are of the weights their run has now (else they are drawn greyed, as older).
bool pareto_fronts_current(const PlaygroundState& state);
// The plot, when fronts were asked for; remembers "pareto_fronts_plot" and, while older, "pareto_older".
void draw_pareto_fronts(PlaygroundState& state, ImVec2 size,
                        const std::function<void(std::string)>& remember);

}  // namespace qplay::ui
