#!/usr/bin/env bash
# Fails when a C++ file of the project is not formatted as .clang-format says, naming the files; with --fix,
# formats them in place. clang-format 14 (tools/setup.sh installs it): another version may format differently.
#   bash tools/check_format.sh [--fix]
set -euo pipefail
cd "$(dirname "$0")/.."
format=clang-format-14
command -v "$format" >/dev/null || { echo "check_format: $format is missing (bash tools/setup.sh installs it)" >&2; exit 1; }
mapfile -t files < <(git ls-files -- 'core/*.h' 'core/*.cpp' 'native/*.h' 'native/*.cpp' 'web/*.h' 'web/*.cpp' \
  'tests/*.h' 'tests/*.cpp' 'tools/*.h' 'tools/*.cpp')
if [[ "${1:-}" == "--fix" ]]; then
  "$format" -i "${files[@]}"
  exit 0
fi
unformatted=()
for file in "${files[@]}"; do
  [[ -f "$file" ]] || continue  # deleted in the working tree, not yet in the index
  if ! "$format" --dry-run --Werror "$file" >/dev/null 2>&1; then unformatted+=("$file"); fi
done
if ((${#unformatted[@]})); then
  echo "check_format: ${#unformatted[@]} of ${#files[@]} files are not formatted (bash tools/check_format.sh --fix):" >&2
  printf '  %s\n' "${unformatted[@]}" >&2
  exit 1
fi
echo "format: ${#files[@]} files formatted as .clang-format says"
