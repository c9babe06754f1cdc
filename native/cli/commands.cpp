#include "native/cli/commands.h"

namespace qplay::cli {

const std::vector<Command>& commands() {
  static const std::vector<Command> all = {
      {"demo", &kDemoFlags, &demo_command},          {"train", &kTrainFlags, &train_command},
      {"sweep", &kSweepFlags, &sweep_command},       {"eval", &kEvalFlags, &eval_command},
      {"grad", &kGradFlags, &grad_command},          {"export", &kExportFlags, &export_command},
      {"compare", &kCompareFlags, &compare_command}, {"allocate", &kAllocateFlags, &allocate_command},
  };
  return all;
}

}  // namespace qplay::cli
