#!/usr/bin/python3
"""Writes assets/fonts/DejaVuSans-QPlay.ttf: DejaVu Sans (Debian's fonts-dejavu-core) cut down to the
characters the playground draws, without hinting (ImGui's rasterizer ignores it). The character ranges
are read from kGlyphRanges in core/ui/display_scale.cpp, so the font and the atlas ImGui builds from it
always agree. 760 KB become about 106 KB (59 KB gzipped), most of the app's download otherwise.

  /usr/bin/python3 tools/assets/make_font_subset.py [--source /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf]

Needs python3-fonttools (apt-get install python3-fonttools); the result is committed, so builds do not.
"""
import argparse
import pathlib
import re
import sys

ROOT = pathlib.Path(__file__).resolve().parents[2]


def glyph_ranges():
    source = (ROOT / "core/ui/display_scale.cpp").read_text()
    block = re.search(r"kGlyphRanges\[\]\s*=\s*\{(.*?)\};", source, re.S)
    if not block:
        sys.exit("make_font_subset: no kGlyphRanges in core/ui/display_scale.cpp")
    numbers = [int(n, 16) for n in re.findall(r"0x([0-9A-Fa-f]+)", re.sub(r"//[^\n]*", "", block.group(1)))]
    if len(numbers) % 2:
        sys.exit("make_font_subset: kGlyphRanges must hold pairs of code points")
    return list(zip(numbers[0::2], numbers[1::2]))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", default="/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")
    parser.add_argument("--output", default=str(ROOT / "assets/fonts/DejaVuSans-QPlay.ttf"))
    args = parser.parse_args()
    try:
        from fontTools import subset
    except ImportError:
        sys.exit("make_font_subset: fontTools is missing (apt-get install python3-fonttools; run /usr/bin/python3)")
    unicodes = ",".join(f"U+{low:04X}-{high:04X}" for low, high in glyph_ranges())
    subset.main([args.source, f"--unicodes={unicodes}", "--no-hinting", "--desubroutinize",
                 "--layout-features=", "--name-IDs=*", "--drop-tables+=FFTM", f"--output-file={args.output}"])
    print(f"make_font_subset: wrote {args.output} ({pathlib.Path(args.output).stat().st_size} bytes) for {unicodes}")


if __name__ == "__main__":
    main()
