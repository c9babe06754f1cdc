// A one-line progress bar with ETA on stderr, redrawn in place when stderr is a terminal and
// printed as occasional plain lines otherwise (CI logs stay readable).
#pragma once

#include <chrono>
#include <string>

namespace qplay::cli {

class ProgressBar {
 public:
  explicit ProgressBar(std::string label, bool enabled = true);
  // fraction in [0, 1]; status is shown after the bar ("epoch 3/20  loss 0.412").
  void update(double fraction, const std::string& status);
  void finish(const std::string& status);

 private:
  std::string label_;
  bool enabled_;
  bool interactive_;
  std::chrono::steady_clock::time_point start_;
  std::chrono::steady_clock::time_point last_draw_;
  int last_logged_decile_ = -1;
};

std::string format_duration(double seconds);

}  // namespace qplay::cli
