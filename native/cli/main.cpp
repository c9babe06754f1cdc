// qplay-cli: the headless QPlay lab. Train a network, sweep bit-widths, evaluate, dump gradients.
// With no arguments it runs the demo: the main job of the README.
#include <cstdio>
#include <new>
#include <string>
#include <vector>

#include "core/engine/kernels/kernel_table.h"
#include "native/cli/commands.h"

namespace {

void print_usage() {
  std::printf(
      "usage: qplay-cli <command> [--flag=value ...]\n\n"
      "commands:\n"
      "  demo     train on the built-in spiral data, quantize it to 8..2 bits, print and plot accuracy\n"
      "  train    train a network (data set, architecture, optimizer, epochs, seed) and save the model\n"
      "  sweep    a saved model -> accuracy table for weight bits x activation bits (table, CSV, JSON, SVG)\n"
      "  eval     a saved model -> loss and accuracy, float and at the chosen bit-widths\n"
      "  grad     a saved model and one batch -> loss and every gradient as JSON (for cross-checks)\n"
      "  export   a saved model -> its weights as documented JSON\n"
      "  compare  train the baseline and robustness methods from the same seeds; accuracy vs bit-width table "
      "and plot\n"
      "  allocate a saved model -> per-layer weight bits under a budget (measured, Hessian, uniform), "
      "Pareto fronts\n\n"
      "'qplay-cli <command> --help' lists the command's flags and every experiment setting.\n"
      "kernel tables in this build: %s\n",
      qplay::available_kernel_tables().c_str());
}

}  // namespace

int main(int argc, char** argv) {
  // Line-buffered stdout keeps progress lines and messages in order when piped to a log.
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  std::vector<std::string> arguments(argv + 1, argv + argc);
  if (arguments.empty()) return qplay::cli::demo_command({});
  std::string command = arguments.front();
  arguments.erase(arguments.begin());
  using namespace qplay::cli;
  for (const Command& known : commands()) {
    if (known.name != command) continue;
    // Sizes from outside are checked before allocating; should memory still run out, say so, don't abort.
    try {
      return known.run(arguments);
    } catch (const std::bad_alloc&) {
      std::fprintf(stderr, "qplay-cli %s: out of memory; try a smaller data set, network or batch_size\n",
                   command.c_str());
      return kExitFailure;
    }
  }
  if (command == "help" || command == "--help" || command == "-h") {
    print_usage();
    return kExitSuccess;
  }
  std::fprintf(stderr, "qplay-cli: unknown command '%s'\n\n", command.c_str());
  print_usage();
  return kExitBadInput;
}
