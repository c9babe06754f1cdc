// The numbers a page shows for a Lab, as one JSON value: for each run its method, epochs, status, test
// accuracy and loss at the current setting and in float, the accuracy-vs-weight-bits curve, what its
// method learned (read-outs per layer) and the per-epoch history. The JS API (web/api) returns it from
// metrics(), and the embedded playground posts it to the page around it; one format for both
// (docs/embedding.md).
#pragma once

#include "core/engine/io/json.h"
#include "core/engine/lab/lab.h"

namespace qplay {

Json lab_metrics_json(const Lab& lab);

}  // namespace qplay
