#!/usr/bin/env python3
"""Fails when the engine's folders include each other in a cycle, or when core/ui includes a specific method.

The engine is layered (docs/design.md): a folder may include folders below it, never one that includes it back.
Prints the folder graph with -v.

Usage: check_folder_graph.py [-v]
"""
import collections
import os
import re
import sys

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
ENGINE = os.path.join(ROOT, "core", "engine")
INCLUDE = re.compile(r'#include "core/engine/([a-z_0-9]+)/([a-z_0-9]+)\.h"')
# What core/ui may include from methods/: the interface every method implements, not one method.
UI_ALLOWED_METHOD_HEADERS = {"training_method"}


def sources(directory):
    for folder, _, names in os.walk(directory):
        for name in sorted(names):
            if name.endswith((".h", ".cpp")):
                yield os.path.join(folder, name)


def folder_graph():
    edges, why = collections.defaultdict(set), {}
    for path in sources(ENGINE):
        source = os.path.relpath(path, ENGINE).split(os.sep)[0]
        for target, _ in INCLUDE.findall(open(path, encoding="utf-8").read()):
            if target != source:
                edges[source].add(target)
                why.setdefault((source, target), os.path.relpath(path, ROOT))
    return edges, why


def cycle_edges(edges):
    def reaches(start, goal):
        seen, todo = set(), [start]
        while todo:
            node = todo.pop()
            if node == goal:
                return True
            if node not in seen:
                seen.add(node)
                todo.extend(edges.get(node, ()))
        return False
    return [(a, b) for a in sorted(edges) for b in sorted(edges[a]) if reaches(b, a)]


def main():
    edges, why = folder_graph()
    if "-v" in sys.argv:
        for folder in sorted(edges):
            print("%-10s -> %s" % (folder, ", ".join(sorted(edges[folder]))))
    failures = ["folder cycle: %s -> %s (%s)" % (a, b, why[(a, b)]) for a, b in cycle_edges(edges)]
    for path in sources(os.path.join(ROOT, "core", "ui")):
        for folder, header in INCLUDE.findall(open(path, encoding="utf-8").read()):
            if folder == "methods" and header not in UI_ALLOWED_METHOD_HEADERS:
                failures.append("%s includes methods/%s.h: the playground must not know one method" %
                                (os.path.relpath(path, ROOT), header))
    for failure in failures:
        print("FAIL", failure)
    print("folder graph: %d folders, %d edges, %s" % (len(edges), sum(len(v) for v in edges.values()),
                                                     "no cycles" if not failures else "%d problems" % len(failures)))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
