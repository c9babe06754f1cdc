#!/usr/bin/env python3
"""docs/results.md's generator, end to end on tiny toy studies: every study runs, every grid is chosen on
validation, every headline verdict is one of the rule's words, and --cached rewrites the same page.

Usage: results_smoke_test.py <qplay-cli>
"""
import os
import re
import subprocess
import sys
import tempfile

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
SCRIPT = os.path.join(ROOT, "tools", "results", "make_results.py")
VERDICTS = {"better", "worse", "no difference shown", "not testable here"}


def main():
    cli = os.path.abspath(sys.argv[1])
    out = tempfile.mkdtemp()
    subprocess.run([sys.executable, SCRIPT, "--cli", cli, "--smoke", "--seeds", "2", "--out", out], check=True,
                   capture_output=True)
    page = open(os.path.join(out, "results.md")).read()
    failures = []
    for name in ("gradl1", "symreg", "cpq", "cpq-cnn", "raq", "qreg"):
        if not os.path.exists(os.path.join(out, "results", name + ".json")):
            failures.append("no JSON for study " + name)
    verdicts = re.findall(r"\| \*\*([a-z ]+)\*\* \|$", page, re.M)
    if len(verdicts) < 10:
        failures.append("the verdict table has %d rows" % len(verdicts))
    failures += ["unknown verdict '%s'" % v for v in set(verdicts) - VERDICTS]
    if page.count("| chosen |") != 6:
        failures.append("expected 6 grids chosen on validation, found %d" % page.count("| chosen |"))
    subprocess.run([sys.executable, SCRIPT, "--cached", "--out", out], check=True, capture_output=True)
    if open(os.path.join(out, "results.md")).read() != page:
        failures.append("--cached wrote a different page")
    for f in failures:
        print("FAIL", f)
    print("results smoke: %d studies, %d verdicts, %s" % (6, len(verdicts), "ok" if not failures else "FAILED"))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
