#include "native/cli/progress_bar.h"

#include <unistd.h>

#include <algorithm>
#include <cstdio>

namespace qplay::cli {

std::string format_duration(double seconds) {
  char buffer[32];
  if (seconds < 60)
    std::snprintf(buffer, sizeof buffer, "%.1fs", seconds);
  else
    std::snprintf(buffer, sizeof buffer, "%dm%02ds", int(seconds) / 60, int(seconds) % 60);
  return buffer;
}

ProgressBar::ProgressBar(std::string label, bool enabled)
    : label_(std::move(label)),
      enabled_(enabled),
      interactive_(isatty(fileno(stderr))),
      start_(std::chrono::steady_clock::now()),
      last_draw_(start_) {}

void ProgressBar::update(double fraction, const std::string& status) {
  if (!enabled_) return;
  fraction = std::clamp(fraction, 0.0, 1.0);
  auto now = std::chrono::steady_clock::now();
  double elapsed = std::chrono::duration<double>(now - start_).count();
  std::string eta = fraction > 0.01 ? format_duration(elapsed * (1 - fraction) / fraction) : "?";
  if (interactive_) {
    if (now - last_draw_ < std::chrono::milliseconds(100) && fraction < 1.0) return;
    last_draw_ = now;
    constexpr int kWidth = 30;
    int filled = static_cast<int>(fraction * kWidth);
    std::string bar(filled, '#');
    bar.resize(kWidth, '.');
    std::fprintf(stderr, "\r%s [%s] %3d%%  %s  ETA %s   ", label_.c_str(), bar.c_str(), int(fraction * 100),
                 status.c_str(), eta.c_str());
  } else {
    int decile = static_cast<int>(fraction * 10);
    if (decile == last_logged_decile_) return;
    last_logged_decile_ = decile;
    std::fprintf(stderr, "%s %3d%%  %s  ETA %s\n", label_.c_str(), decile * 10, status.c_str(), eta.c_str());
  }
  std::fflush(stderr);
}

void ProgressBar::finish(const std::string& status) {
  if (!enabled_) return;
  double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  std::fprintf(stderr, "%s%s done in %s  %s\n", interactive_ ? "\r" : "", label_.c_str(),
               format_duration(elapsed).c_str(), status.c_str());
}

}  // namespace qplay::cli
