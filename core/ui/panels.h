// The playground's plot panels, each drawn into the space the layout gives it (playground.cpp) from
// the Lab's runs and evaluations; they read state and return nothing but the user's clicks.
#pragma once

#include <imgui.h>

#include <functional>
#include <string>
#include <vector>

#include "core/ui/playground_state.h"

namespace qplay::ui {

// The colour of run i everywhere (curves, chips, bars).
ImU32 run_color(int run);
// "float" for 0, else "4-bit".
std::string bits_label(int bits);
// A run's test accuracy at a setting as the playground writes it: "93.3%" when current, "≈93.3%" for a
// first read-out on part of the test split, "93.3%…" while older weights' result is being redone, "…"
// before any. Everything not current is also drawn faded (is_current_readout says which).
std::string accuracy_readout(const Lab& lab, int run, const EvaluationCache::Entry* entry);
bool is_current_readout(const Lab& lab, int run, const EvaluationCache::Entry* entry);
// The weight tensors' names ("0.weight"), in the order of Lab::weighted_layers().
std::vector<std::string> weighted_layer_names(const Lab& lab);
// What the slider's setting really applies, for titles: "4-bit weights", "3/1/3-bit weights by layer,
// 8-bit activations", "float weights, 4/float-bit activations by layer" (from the second layer's input).
std::string applied_setting_label(const Lab& lab);
// The deployed size at the slider's setting (deploy/model_size.h): "model 12.4 KB, 3.9 bits per weight
// (float 49.1 KB)". Of the architecture and the setting only, so it is never stale.
std::string model_size_label(const Lab& lab);

// Text cut to max_width with "…" when longer, the whole text in a tooltip then.
void text_ellipsized(const std::string& text, float max_width, bool disabled = false);

// Test accuracy against weight bit-width, one curve per run; clicking a bit-width moves the slider.
void draw_accuracy_curves(PlaygroundState& state, ImVec2 size);
// Train and test loss and accuracy per epoch, every run.
void draw_training_curves(PlaygroundState& state, ImVec2 size);
// The selected run's decision boundary: float beside the current setting, with the data points.
void draw_decision_boundaries(PlaygroundState& state, ImVec2 size);
// Per-layer histograms of the selected run's weights with the grid, and the quantizer's staircase.
void draw_weights(PlaygroundState& state, ImVec2 size);
// Accuracy with only one layer's weights, and with only its input, quantized, per layer and run; the
// layer chosen on the bars gets its own weight and activation bits there (mixed_precision_panel.cpp).
// remember(name) is called after each control ("more_weights", "sensitivity_weights", ...) for tests.
void draw_layer_sensitivity(PlaygroundState& state, ImVec2 size,
                            const std::function<void(std::string)>& remember);
// Image data: test images with the predicted labels at the current setting, and the confusion matrix.
void draw_sample_images(PlaygroundState& state, ImVec2 size);
void draw_confusion_matrix(PlaygroundState& state, ImVec2 size);
// What each hidden neuron of the selected run computes over the plane (2-D data sets), float,
// quantized or their difference, one small map per neuron on one colour scale per layer.
void draw_neuron_maps(PlaygroundState& state, ImVec2 size);
// What the methods learned per layer (CPQ's bit-widths, SymReg's asymmetry, RAQ's spectral norms), one
// table per run that has any, drawn inline.
bool any_method_readouts(const Lab& lab);
void draw_method_readouts(PlaygroundState& state);
// One button per method (lab/recipes.h): a click loads the setting where its claim shows, starts training
// and keeps what to look for in view; *active is the recipe applied last (-1: none, or dismissed).
// remember(name) is called after each button ("recipe_gradl1", ...) so tests can find it.
void draw_method_recipes(PlaygroundState& state, int* active,
                         const std::function<void(std::string)>& remember);

}  // namespace qplay::ui
