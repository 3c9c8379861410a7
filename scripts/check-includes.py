#!/usr/bin/env python3
"""The project's include graph, checked (make lint; docs/DESIGN.md section 2).

Fails (exit 1, one line per finding) when
  - the project's headers include each other in a cycle (a header that needs another that
    needs it back is one module split in the wrong place), or
  - a file in lib/ includes anything from calls/ or a program's folder (lib/ is what several
    programs share; the arrows go from programs and calls/ into lib/, never back).

A quoted #include is resolved as the build resolves it: the including file's own folder first,
then the folders on its -I path (Makefile: lib/ for everything, calls/ for calls/, the
programs, tests and benches, and each program's own folder). Angle-bracket includes are the
system's and libraries' and are not followed. Usage: scripts/check-includes.py [ROOT]
"""
import os
import re
import sys

INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)
# Folders whose C the build compiles, and the -I path each gets beyond its own folder.
PROGRAMS = ["cli", "ingest", "query-api", "workers/embedder", "workers/memories",
            "workers/personality", "workers/summarizer"]
OTHERS = ["bench", "tests/unit", "tests/tools", "tests/fuzz"]


def search_path(folder):
    if folder == "lib":
        return ["lib"]
    if folder == "calls":
        return ["calls", "lib"]
    if folder == "tests/fuzz":  # fuzz_http, fuzz_cmdline: aimem-query's handlers, the CLI's
        return [folder, "lib", "calls", "query-api", "cli"]
    if folder == "bench":  # the benches print aimem-query's statements
        return [folder, "lib", "calls", "query-api"]
    if folder == "tests/unit":  # the unit runner tests the CLI's and aimem-query's modules
        return [folder, "lib", "calls", "cli", "query-api"]
    return [folder, "lib", "calls"]


def sources(root):
    for folder in ["lib", "calls"] + PROGRAMS + OTHERS:
        path = os.path.join(root, folder)
        if not os.path.isdir(path):
            continue
        for name in sorted(os.listdir(path)):
            if name.endswith((".c", ".h")):
                yield folder, name


def resolve(root, folder, name):
    # lib/'s own path has only lib/: a name found only in calls/ or a program is still an
    # arrow out of lib/ (it would build with one more -I), so those folders are looked at too
    path = search_path(folder) + (["calls"] + PROGRAMS if folder == "lib" else [])
    for d in path:
        if os.path.isfile(os.path.join(root, d, name)):
            return os.path.join(d, name)
    return None


def graph(root):
    edges = {}
    for folder, name in sources(root):
        rel = os.path.join(folder, name)
        with open(os.path.join(root, rel), encoding="utf-8", errors="replace") as f:
            text = f.read()
        targets = []
        for inc in INCLUDE.findall(text):
            target = resolve(root, folder, inc)
            if target is not None:
                targets.append(target)
        edges[rel] = targets
    return edges


def cycles(edges):
    """Every cycle among headers, each once (as found from its smallest member)."""
    headers = sorted(h for h in edges if h.endswith(".h"))
    found, seen = [], set()
    for start in headers:
        stack = [(start, [start])]
        while stack:
            node, path = stack.pop()
            for nxt in edges.get(node, []):
                if not nxt.endswith(".h"):
                    continue
                if nxt == start:
                    key = frozenset(path)
                    if key not in seen and min(path) == start:
                        seen.add(key)
                        found.append(path + [start])
                elif nxt not in path and nxt > start:
                    stack.append((nxt, path + [nxt]))
    return found


def main():
    root = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..")
    edges = graph(root)
    problems = []
    for src, targets in sorted(edges.items()):
        if src.startswith("lib/"):
            for t in targets:
                if not t.startswith("lib/"):
                    problems.append(f"{src} includes {t}: lib/ never includes calls/ or a program")
    for c in cycles(edges):
        problems.append("include cycle: " + " -> ".join(c))
    for p in problems:
        print("check-includes: " + p)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
