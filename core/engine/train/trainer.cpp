#include "core/engine/train/trainer.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <sstream>

#include "core/engine/train/evaluation.h"

namespace qplay {
namespace {

using Clock = std::chrono::steady_clock;

double milliseconds_since(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

// Quantization-aware training tracks activation ranges with an exponential moving average of each
// batch's maximum (Jacob et al. 2018 use the same EMA for their QAT ranges).
constexpr float kRangeMomentum = 0.9f;

bool trains_with_quantized_weights(const QuantizationSetting& s) {
  return s.weights.bits > 0 ||
         std::any_of(s.weight_bits_per_layer.begin(), s.weight_bits_per_layer.end(), [](int b) { return b > 0; });
}

}  // namespace

Trainer::Trainer(std::shared_ptr<const Dataset> dataset, Network<float>& network, TrainingSettings settings)
    : dataset_(std::move(dataset)),
      network_(network),
      settings_(std::move(settings)),
      batcher_(dataset_->train_size(), settings_.batch_size, settings_.seed) {
  batcher_.start_epoch(0);
  network_.set_optimizer_slot_count(optimizer_slot_count(settings_.optimizer.kind));
  activation_range_ema_.assign(network_.architecture().layers.size(), -1.0f);
}

double Trainer::epoch_fraction() const {
  size_t total = dataset_->train_size();
  return total == 0 ? 0.0 : double(epoch_samples_) / double(total);
}

int Trainer::advance(double budget_ms) {
  const Clock::time_point start = Clock::now();
  int taken = 0;
  while (!finished()) {
    if (!step()) break;
    ++taken;
    if (milliseconds_since(start) >= budget_ms) break;
  }
  return taken;
}

ForwardOptions<float> Trainer::prepare_quantized_forward() {
  ForwardOptions<float> options;
  const QuantizationSetting& qat = settings_.qat;
  if (trains_with_quantized_weights(qat)) {
    quantized_view_.resize(network_.parameter_count());
    quantize_weights_into(network_, network_.parameters(), qat, quantized_view_, &weight_grids_);
    options.parameters = quantized_view_;
  }
  if (qat.activations.bits > 0) {
    const Architecture& architecture = network_.architecture();
    activation_quantization_.input_grids.resize(architecture.layers.size());
    options.activation_quantization = &activation_quantization_;
    // The network calls this with each quantized layer input just before quantizing it, so the grid
    // updated here already applies to this batch (and the first batch seeds the range).
    options.observe_layer_input = [this, &architecture, bits = qat.activations.bits](
                                      int layer, std::span<const float> input) {
      float batch_max = 0.0f;
      for (float v : input) batch_max = std::max(batch_max, std::fabs(v));
      if (batch_max == 0.0f) return;
      float& ema = activation_range_ema_[layer];
      ema = ema < 0 ? batch_max : kRangeMomentum * ema + (1 - kRangeMomentum) * batch_max;
      activation_quantization_.input_grids[layer] = layer_input_is_nonnegative(architecture, layer)
                                                        ? unsigned_grid(ema, bits)
                                                        : symmetric_grid(ema, bits);
    };
  }
  return options;
}

bool Trainer::step() {
  if (finished()) return false;
  const Clock::time_point start = Clock::now();
  std::span<const uint32_t> indices;
  if (!batcher_.next(indices)) {
    finish_epoch();
    return !finished() && step();
  }
  const int batch = static_cast<int>(indices.size());
  const int sample_size = dataset_->sample_size();
  batch_features_.resize(size_t(batch) * sample_size);
  batch_labels_.resize(batch);
  gather_batch(dataset_->train_x, indices, batch_features_.data());
  gather_labels(dataset_->train_y, indices, batch_labels_.data());

  ForwardOptions<float> options = prepare_quantized_forward();
  network_.forward(batch_features_, batch, options);
  const float loss = network_.loss(batch_labels_);
  if (!std::isfinite(loss)) {
    std::ostringstream message;
    message << "training stopped in epoch " << epoch_ + 1 << " at step " << steps_ + 1 << ": the loss became "
            << (std::isnan(loss) ? "NaN" : "infinite") << ". The learning rate ("
            << settings_.optimizer.learning_rate << ") is most likely too high for this network; try "
            << settings_.optimizer.learning_rate / 10 << ".";
    status_ = Status::error(message.str());
    return false;
  }
  network_.backward(batch_labels_);
  if (!weight_grids_.empty() && !quantized_view_.empty()) {
    // Clipped straight-through estimator: the gradient w.r.t. the quantized weight flows to the
    // float master weight wherever that weight lies inside its grid's range.
    std::span<float> gradients = network_.gradients();
    const auto& tensors = network_.parameter_tensors();
    for (size_t t = 0; t < tensors.size(); ++t) {
      if (weight_grids_[t].empty()) continue;
      const ParameterTensor& tensor = tensors[t];
      std::span<float> g = network_.tensor(gradients, tensor);
      straight_through_backward(network_.tensor(network_.parameters(), tensor), tensor.rows, weight_grids_[t], g, g);
    }
  }
  ++steps_;
  const double epoch_position = epoch_ + epoch_fraction();
  optimizer_step(network_, settings_.optimizer,
                 scheduled_learning_rate(settings_.optimizer, settings_.schedule, epoch_position, settings_.epochs),
                 steps_);

  std::span<const float> p = network_.probabilities();
  const int classes = network_.architecture().num_classes;
  for (int b = 0; b < batch; ++b) {
    const float* row = p.data() + size_t(b) * classes;
    epoch_correct_ += (std::max_element(row, row + classes) - row) == batch_labels_[b];
  }
  epoch_loss_sum_ += double(loss) * batch;
  epoch_samples_ += batch;
  epoch_seconds_ += milliseconds_since(start) / 1000.0;
  return true;
}

void Trainer::finish_epoch() {
  EpochMetrics metrics;
  metrics.epoch = epoch_ + 1;
  metrics.train_loss = epoch_samples_ ? epoch_loss_sum_ / epoch_samples_ : 0.0;
  metrics.train_accuracy = epoch_samples_ ? double(epoch_correct_) / epoch_samples_ : 0.0;
  metrics.learning_rate =
      scheduled_learning_rate(settings_.optimizer, settings_.schedule, epoch_ + 0.5, settings_.epochs);
  metrics.seconds = epoch_seconds_;
  // Test metrics of the model as trained: with QAT, the quantized forward the training optimised.
  ForwardOptions<float> options;
  std::vector<float> view;
  if (trains_with_quantized_weights(settings_.qat)) {
    view = quantized_weights_view(network_, settings_.qat);
    options.parameters = view;
  }
  if (settings_.qat.activations.bits > 0) options.activation_quantization = &activation_quantization_;
  Evaluation test = evaluate(network_, dataset_->test_x, dataset_->test_y, options);
  metrics.test_loss = test.loss;
  metrics.test_accuracy = test.accuracy;
  history_.push_back(metrics);

  ++epoch_;
  epoch_loss_sum_ = 0;
  epoch_correct_ = epoch_samples_ = 0;
  epoch_seconds_ = 0;
  batcher_.start_epoch(epoch_);
}

}  // namespace qplay
