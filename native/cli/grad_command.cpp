// qplay-cli grad: a model's gradients as JSON, for cross-checks against other frameworks. The dump is
// self-contained: the batch's inputs and labels, every parameter and every gradient, so a reader needs
// nothing but the file.
#include <cstdio>
#include <cstdlib>

#include "core/engine/experiment/state_table.h"
#include "core/engine/io/json.h"
#include "native/cli/cli_common.h"
#include "native/cli/commands.h"

namespace qplay::cli {

const std::vector<CommandFlag> kGradFlags = {
    {"model", "the model file", "", true},
    {"split", "which split the batch comes from: train or test", "train"},
    {"offset", "index of the batch's first sample (samples offset .. offset+batch_size-1, unshuffled)", "0"},
    {"out", "write the JSON here instead of stdout", ""},
};

namespace {

// A saved model's data (the seed draws a toy set, batch_size sizes the batch) and its method's objective.
SettingScope grad_scope(const Experiment& experiment) {
  return {{"data", "method", "compute"},
          {"seed", "batch_size"},
          {{"train_limit", "grad takes one batch from --offset; the limit would only cut the split short"},
           {"test_limit", "grad takes one batch from --offset; the limit would only cut the split short"},
           {"gradl1_warmup", "grad computes the objective of a trained model, after any warm-up"},
           {"cpq_learning_rate", "it sizes the learned bit-widths' update steps, and grad takes no step"}},
          {std::string(choice_name(experiment.method))}};
}

Json tensor_json(const std::string& name, const std::vector<int>& shape, std::span<const float> values) {
  Json tensor = Json::object();
  tensor["name"] = name;
  Json dims = Json::array();
  for (int d : shape) dims.push_back(d);
  tensor["shape"] = std::move(dims);
  Json numbers = Json::array();
  for (float v : values) numbers.push_back(static_cast<double>(v));
  tensor["values"] = std::move(numbers);
  return tensor;
}

}  // namespace

int grad_command(const std::vector<std::string>& arguments) {
  int exit_code = kExitSuccess;
  std::optional<ParsedCommandLine> parsed = parse_command(
      "grad",
      "Computes the objective of the model's method (--method and its knobs) on one batch (--batch_size "
      "samples from --offset): cross-entropy, penalty, their total and the gradient of every parameter, "
      "and writes them as JSON (format qplay-gradients).",
      kGradFlags, arguments, exit_code);
  if (!parsed) return exit_code;
  const std::string& split = parsed->flag("split");
  if (split != "train" && split != "test") {
    return report_bad_input("grad", Status::error("--split must be train or test, got '" + split + "'"));
  }
  Result<LoadedModel> model = load_model_for_command(*parsed);
  if (!model) return report_bad_input("grad", model.status());
  if (Status status =
          check_settings_are_read("grad", *parsed, model->experiment, grad_scope(model->experiment));
      !status)
    return report_bad_input("grad", status);
  const Dataset& data = *model->dataset;
  const FeatureRows& x = split == "train" ? data.train_x : data.test_x;
  const std::vector<int32_t>& y = split == "train" ? data.train_y : data.test_y;
  const int batch = model->experiment.batch_size;
  const std::string& offset_text = parsed->flag("offset");
  char* end = nullptr;
  const long offset = std::strtol(offset_text.c_str(), &end, 10);
  if (end == offset_text.c_str() || *end != '\0' || offset < 0 || size_t(offset) + batch > y.size()) {
    return report_bad_input(
        "grad",
        Status::error("--offset must be an integer from 0 to " + std::to_string(long(y.size()) - batch) +
                      " (the " + split + " split has " + std::to_string(y.size()) +
                      " samples and the batch is " + std::to_string(batch) + ")"));
  }
  Network<float>& network = *model->network;
  const size_t sample_size = data.sample_size();
  std::vector<float> inputs(batch * sample_size);  // [batch, sample_size], decoded
  x.copy_rows(offset, batch, inputs.data());
  std::span<const int32_t> labels(y.data() + offset, batch);
  // The objective of the experiment's method (--method and its knobs): cross-entropy plus its penalty, and
  // the gradient of their sum, as a training step of that method would compute them on this batch.
  const Experiment& experiment = model->experiment;
  Result<std::unique_ptr<TrainingMethod>> method =
      make_training_method(experiment, !experiment.init_model.empty());
  if (!method) return report_bad_input("grad", method.status());
  Json parameters = Json::array();
  for (const ParameterTensor& t : network.parameter_tensors())
    parameters.push_back(tensor_json(t.name, t.shape(), network.tensor(network.parameters(), t)));
  (*method)->attach(network);
  Rng method_rng(experiment.seed, /*stream=*/0x6d657468);  // the trainer's stream for the method
  StepContext context;
  context.step = 1;
  context.progress = 1.0;  // a trained model: warm-ups are over
  context.rng = &method_rng;
  const StepResult result =
      (*method)->compute_gradients(network, TrainingBatch{inputs, labels, batch}, context);

  Json json = Json::object();
  json["format"] = "qplay-gradients";
  json["version"] = 1;
  json["architecture"] = network.architecture().spec;
  json["method"] = choice_name(experiment.method);
  Json knobs = Json::object();
  for (const SettingRow& row : experiment_settings())
    if (row.group == choice_name(experiment.method))
      knobs[std::string(row.key)] = get_setting(experiment, row);
  json["method_settings"] = std::move(knobs);
  json["loss"] = static_cast<double>(result.loss);
  json["penalty"] = static_cast<double>(result.penalty);
  json["total_loss"] = static_cast<double>(result.loss) + result.penalty;
  json["loss_definition"] =
      experiment.method == MethodKind::baseline
          ? "mean softmax cross-entropy over the batch"
          : "loss: mean softmax cross-entropy of the method's forward; penalty: the method's regularizer as "
            "added "
            "to the objective; gradients: of loss + penalty w.r.t. the parameters the method trains";
  const TensorShape& in = network.architecture().input;
  json["inputs"] = tensor_json("inputs", {batch, in.height, in.width, in.channels}, inputs);
  Json label_values = Json::array();
  for (int32_t label : labels) label_values.push_back(label);
  json["labels"] = std::move(label_values);
  Json gradients = Json::array();
  for (const ParameterTensor& t : network.parameter_tensors())
    gradients.push_back(
        tensor_json(t.name, t.shape(), network.tensor(std::span<const float>(network.gradients()), t)));
  json["parameters"] = std::move(parameters);
  json["gradients"] = std::move(gradients);
  return write_command_output("grad", parsed->flag("out"), to_json(json, 1) + "\n");
}

}  // namespace qplay::cli
