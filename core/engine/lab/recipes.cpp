#include "core/engine/lab/recipes.h"

#include "core/engine/base/setting_row.h"
#include "core/engine/io/json.h"

namespace qplay {

Result<std::vector<MethodRecipe>> parse_method_recipes(std::string_view json_text) {
  Result<Json> json = parse_json(json_text);
  if (!json) return json.status().with_context("recipes");
  const Json* format = json->find("format");
  const Json* version = json->find("version");
  const Json* list = json->find("recipes");
  if (!format || !format->is_string() || format->as_string() != "qplay-recipes" || !version ||
      !version->is_number() || version->as_number() != 1 || !list || !list->is_array())
    return Status::error("recipes: not a qplay-recipes file of version 1 with a \"recipes\" array");
  std::vector<MethodRecipe> recipes;
  for (const Json& item : list->as_array()) {
    const std::string where = "recipe " + std::to_string(recipes.size() + 1);
    if (!item.is_object()) return Status::error(where + " must be an object");
    auto text = [&](const char* key, std::string* out) -> Status {
      const Json* value = item.find(key);
      if (!value || !value->is_string() || value->as_string().empty())
        return Status::error(where + ": \"" + key + "\" must be a non-empty string");
      *out = value->as_string();
      return {};
    };
    MethodRecipe recipe;
    std::string reading;
    for (auto [key, out] : {std::pair{"method", &recipe.method},
                            {"title", &recipe.title},
                            {"state", &recipe.state},
                            {"look", &recipe.look},
                            {"reading", &reading},
                            {"verdict", &recipe.verdict}})
      if (Status status = text(key, out); !status) return status;
    const std::optional<RecipeReading> parsed_reading = parse_choice<RecipeReading>(reading);
    if (!parsed_reading) return Status::error(where + ": unknown reading '" + reading + "'");
    recipe.reading = *parsed_reading;
    const Json* learned = item.find("use_learned_bits");
    if (!learned || !learned->is_bool())
      return Status::error(where + ": \"use_learned_bits\" must be true or false");
    recipe.use_learned_bits = learned->as_bool();
    recipes.push_back(std::move(recipe));
  }
  return recipes;
}

const std::vector<MethodRecipe>& method_recipes() {
  static const std::vector<MethodRecipe> recipes = [] {
    Result<std::vector<MethodRecipe>> parsed = parse_method_recipes(method_recipes_asset());
    return parsed ? std::move(parsed).value() : std::vector<MethodRecipe>();
  }();
  return recipes;
}

}  // namespace qplay
