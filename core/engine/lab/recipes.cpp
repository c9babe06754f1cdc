#include "core/engine/lab/recipes.h"

namespace qplay {

const std::vector<MethodRecipe>& method_recipes() {
  static const std::vector<MethodRecipe> recipes = {
      {"gradl1", "gradient-l1 at 2 bits",
       "dataset=spiral&architecture=mlp:8,8&epochs=40&methods=baseline,gradl1&weight_bits=2&granularity=per-tensor",
       "Weights at 2 bits, one grid per layer. Gradient-l1 keeps much more accuracy on some seeds and less on "
       "others: change the seed a few times. Across five seeds no difference is shown, as on Fashion-MNIST "
       "(docs/results.md): the paper's claim does not hold at this scale.",
       RecipeReading::accuracy_at_slider, false, "no difference shown"},
      {"qreg", "QReg against overfitting",
       "dataset=spiral&samples=200&noise=0.3&test_fraction=0.5&architecture=mlp:128,128&epochs=150&batch_size=16&"
       "schedule=constant&methods=baseline,qreg&qat_weight_bits=2&weight_bits=0",
       "100 noisy training points and a wide network: the baseline learns them by heart (train accuracy near "
       "100%, test far below). Training through a 2-bit grid (QReg) narrows the gap between train and test: "
       "compare the curves of the two runs.",
       RecipeReading::generalization_gap, false, "better"},
      {"symreg", "SymReg + SatNL at 2 bits",
       "dataset=spiral&architecture=mlp:16,16&epochs=40&methods=baseline,symreg&weight_bits=2&granularity=per-tensor",
       "Weights at 2 bits, one min-max grid per layer. The baseline's few large weights stretch the grid and "
       "most weights round to zero; SatNL keeps every weight inside a bounded range and SymReg balances it "
       "about zero, so the grid fits and the boundary survives. Across five seeds SymReg keeps clearly more.",
       RecipeReading::accuracy_at_slider, false, "better"},
      {"cpq", "CPQ learns its bits",
       "dataset=spiral&weight_bits=4&granularity=per-channel&methods=baseline,cpq&cpq_bits=4&cpq_learn_bits=on&"
       "cpq_bits_lambda=1&cpq_learning_rate=0.01",
       "CPQ learns a bit-width per layer while it trains. When training ends, open the Learned tab (on a phone: "
       "Details) and press the button with CPQ's bits: both runs are then rounded to those bits, and CPQ, which "
       "trained for them, keeps more accuracy than the baseline across five seeds.",
       RecipeReading::accuracy_at_slider, true, "better"},
      {"raq", "RAQ at 2 bits",
       "dataset=spiral&architecture=mlp:16,16&epochs=40&methods=baseline,raq&weight_bits=2&granularity=per-channel",
       "Weights at 2 bits per channel. RAQ trained its weights to sit on 2-bit shift-add levels, so rounding "
       "them costs little; the baseline, rounded after training, loses much of its boundary. (Against plain "
       "2-bit QAT, RAQ's extra losses show no difference: docs/results.md.)",
       RecipeReading::accuracy_at_slider, false, "better"},
  };
  return recipes;
}

}  // namespace qplay
