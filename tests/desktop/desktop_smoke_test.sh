#!/usr/bin/env bash
# The desktop app (qplay) end to end under a virtual X display (Xvfb): it opens its window, draws 60
# frames of the playground and exits 0 with a screenshot that is not blank; bad flags exit 2 with a
# message; without a display it exits 1 with a message instead of crashing.
#   desktop_smoke_test.sh <qplay binary> [<directory to keep the screenshot in>]
set -uo pipefail
qplay="$1"
keep_dir="${2:-}"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# pass, fail, expect and the failure count
source "$(dirname "$0")/../expect.sh"

# Flags are checked before any window opens: no display needed.
expect "--help prints the usage" 0 "usage: qplay" -- "$qplay" --help
expect "an unknown flag exits 2" 2 "bogus" -- "$qplay" --bogus=1
expect "a bad frame count exits 2" 2 "--frames must be an integer" -- "$qplay" --frames many
expect "a bad setting exits 2 naming it" 2 "weight_bits" -- "$qplay" --weight_bits=99 --frames 1
expect "a flag without its value exits 2" 2 "--state needs a value" -- "$qplay" --state
expect "--screenshot without --frames exits 2" 2 "--screenshot needs --frames" -- "$qplay" --screenshot x.png
expect "no display: exit 1 with a message" 1 "cannot open a window" -- \
  env -u DISPLAY -u WAYLAND_DISPLAY "$qplay" --frames 1

# The real thing: 60 frames in a 1280x720 window on a 1280x800 virtual screen (Mesa's software GL).
# In the AddressSanitizer build, LeakSanitizer is off for the runs with a window: Mesa's GL driver
# (swrast_dri.so) is unloaded at exit with a few hundred bytes still allocated, and an unloaded
# library's stacks can neither be named nor suppressed (with the driver kept loaded, nothing leaks).
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0"
shot="$work/qplay.png"
expect "60 frames under Xvfb, screenshot written" 0 "" -- \
  xvfb-run -a -s "-screen 0 1280x800x24" "$qplay" --frames 60 --state "weight_bits=4" --screenshot "$shot"
if [ -s "$shot" ]; then
  # ImageMagick: size, number of distinct colours, and the standard deviation of the grey levels.
  read -r width height colours spread < <(convert "$shot" -format "%w %h %k %[fx:standard_deviation]\n" info:)
  echo "     screenshot ${width}x${height}, $colours colours, grey standard deviation $spread"
  [ "$width" = 1280 ] && [ "$height" = 720 ] && pass "screenshot is 1280x720" ||
    fail "screenshot is ${width}x${height}, expected 1280x720"
  # Antialiased text alone gives dozens of colours; a blank or single-colour frame has 1 or 2.
  [ "$colours" -gt 50 ] && pass "screenshot is not blank ($colours colours)" ||
    fail "screenshot looks blank: $colours colours"
  awk -v s="$spread" 'BEGIN { exit !(s > 0.01) }' && pass "screenshot has contrast" ||
    fail "screenshot has no contrast (standard deviation $spread)"
  expect "PPM screenshots too" 0 "" -- \
    xvfb-run -a -s "-screen 0 1280x800x24" "$qplay" --frames 2 --screenshot "$work/qplay.ppm"
  [ "$(head -c 2 "$work/qplay.ppm" 2>/dev/null)" = P6 ] && pass "the PPM is a P6 image" ||
    fail "the PPM is not a P6 image"
  if [ -n "$keep_dir" ]; then mkdir -p "$keep_dir" && cp "$shot" "$keep_dir/qplay-desktop.png"; fi
else
  fail "no screenshot at $shot"
fi

# A plot saved as PNG is the plot's rectangle of the frame (the size qplay reports, well under the window),
# and as SVG a document of its title, axes and data.
expect "--save_plot_to needs --save_plot" 2 "go together" -- "$qplay" --frames 5 --save_plot_to x.png
expect "--save_plot writes .svg or .png" 2 ".svg or .png" -- "$qplay" --frames 5 --save_plot a --save_plot_to x.gif
xvfb-run -a -s "-screen 0 1280x800x24" "$qplay" --frames 30 --state "dataset=moons&epochs=2" \
  --save_plot accuracy_curves --save_plot_to "$work/plot.png" > "$work/png.txt" 2>&1
reported=$(sed -n 's/.* is \([0-9]*x[0-9]*\) pixels$/\1/p' "$work/png.txt")
written=$(convert "$work/plot.png" -format "%wx%h" info: 2>/dev/null)
echo "     plot PNG: reported $reported, written $written"
[ -n "$reported" ] && [ "$reported" = "$written" ] && pass "the plot PNG has the plot's size ($written)" ||
  fail "plot PNG: reported '$reported', written '$written': $(cat "$work/png.txt")"
read -r plot_width plot_height <<< "${written/x/ }"
[ "${plot_width:-0}" -ge 200 ] && [ "${plot_width:-0}" -lt 1280 ] && [ "${plot_height:-0}" -ge 100 ] &&
  [ "${plot_height:-0}" -lt 720 ] && pass "the plot PNG is a part of the window" ||
  fail "the plot PNG is ${written}, not a part of a 1280x720 window"
expect "a plot saved as SVG" 0 "saved $work/plot.svg" -- xvfb-run -a -s "-screen 0 1280x800x24" "$qplay" --frames 30 \
  --state "dataset=moons&epochs=2" --save_plot boundary_quantized --save_plot_to "$work/plot.svg"
python3 -c "
import sys, xml.etree.ElementTree as ET
root = ET.parse(sys.argv[1]).getroot()
svg = '{http://www.w3.org/2000/svg}'
texts = [''.join(t.itertext()) for t in root.iter(svg + 'text')]
assert any('-bit weights: test' in t for t in texts), texts
assert '0' in texts and '1' in texts, 'axis ticks: ' + repr(texts)
assert len(list(root.iter(svg + 'rect'))) > 20, 'the boundary cells'
assert len(list(root.iter(svg + 'circle'))) > 100, 'the data points'
" "$work/plot.svg" && pass "the plot SVG parses with title, ticks, cells and points" || fail "the plot SVG is wrong"

if [ "$failures" -ne 0 ]; then
  echo "$failures check(s) failed"
  exit 1
fi
echo "all desktop checks passed"
