#!/usr/bin/env python3
"""Compiles the ```cpp blocks of the docs against the built headers (ctest docs.snippets, docs/building.md).

Every ```cpp block is compiled unless marked; the marker is an HTML comment on the line before the fence,
invisible where the Markdown is rendered:

    <!-- snippet: NAME [fragment|whole|skip]
    hidden context lines (declarations the snippet uses), compiled before it
    -->

- fragment (the default): statements; put in a function body after the context.
- whole: declarations (functions, types); put at namespace scope after the context.
- skip: pseudo-code, not compiled (say why in the prose).
NAME defaults to FILE#N (the block's index in its file). A snippet line holding only `...` elides code and
is dropped; `#include` lines are moved to the top of the translation unit.

Snippets listed in the pending file (one FILE#NAME a line, then an optional reason; lines starting with `#`
are comments) are expected not to compile yet
(API being changed elsewhere): each is compiled alone and must still fail; one that compiles fails the check
until it is removed from the list. All others are compiled together, in one translation unit with #line
directives, so an error points at the Markdown line.
"""
import argparse
import os
import re
import subprocess
import sys
import tempfile

PRELUDE = """\
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <iostream>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <system_error>
#include <vector>
"""

MARKER = re.compile(r"^<!--\s*snippet:\s*(\S+)?\s*(fragment|whole|skip)?\s*(-->)?\s*$")


class Snippet:
    def __init__(self, path, index, line, name, mode, context, context_line, body):
        self.path, self.index, self.line = path, index, line
        self.name = name or f"{os.path.basename(path)}#{index}"
        if "#" not in self.name:
            self.name = f"{os.path.basename(path)}#{self.name}"
        self.mode, self.context, self.context_line, self.body = mode, context, context_line, body

    def includes(self):
        return [l for l in self.context + self.body if l.lstrip().startswith("#include")]

    def code(self, ident):
        """The snippet as C++ in namespace `ident`, with #line directives back into the Markdown."""
        ctx = [l for l in self.context if not l.lstrip().startswith("#include")]
        body = ["" if l.strip() == "..." or l.lstrip().startswith("#include") else l for l in self.body]
        src = os.path.abspath(self.path)
        out = [f"namespace {ident} {{", "using namespace cyxp2p;", "using namespace std::chrono_literals;"]
        if self.mode == "whole":
            out += [f'#line {self.context_line} "{src}"'] + ctx
            out += [f'#line {self.line} "{src}"'] + body
        else:
            out += ["[[maybe_unused]] void run() {", f'#line {self.context_line} "{src}"'] + ctx
            out += [f'#line {self.line} "{src}"'] + body + ["}"]
        out += [f"}}  // namespace {ident}", ""]
        return "\n".join(out)


def extract(path):
    lines = open(path, encoding="utf-8").read().split("\n")
    snippets, i, index = [], 0, 0
    marker = None  # (name, mode, context, context_line) of a marker just read
    while i < len(lines):
        m = MARKER.match(lines[i])
        if m:
            name, mode, closed = m.group(1), m.group(2) or "fragment", m.group(3)
            start, context = i + 2, []
            i += 1
            if not closed:
                while i < len(lines) and lines[i].strip() != "-->":
                    context.append(lines[i])
                    i += 1
                i += 1
            marker = (name, mode, context, start)
            continue
        if lines[i].strip() == "```cpp":
            index += 1
            body_line, body = i + 2, []
            i += 1
            while i < len(lines) and lines[i].strip() != "```":
                body.append(lines[i])
                i += 1
            name, mode, context, cline = marker or (None, "fragment", [], body_line)
            snippets.append(Snippet(path, index, body_line, name, mode, context, cline, body))
        elif lines[i].strip():
            marker = None  # a marker belongs to the fence right after it
        i += 1
    return snippets


def compile_tu(snippets, args, tmp, stem):
    incs = sorted({l.strip() for s in snippets for l in s.includes()})
    text = PRELUDE + "".join(f"#include <{h}>\n" for h in args.header) + "\n".join(incs) + "\n\n"
    for k, s in enumerate(snippets):
        text += s.code(f"cyxp2p_docs_snippet_{k}") + "\n"
    tu = os.path.join(tmp, stem + ".cpp")
    with open(tu, "w", encoding="utf-8") as f:
        f.write(text)
    cmd = [args.compiler, "-std=c++20", "-fsyntax-only", "-x", "c++"]
    # Target include lists repeat directories and name system ones; -I/usr/include would break libstdc++'s
    # #include_next, so those stay the compiler's own.
    dirs = [d for d in dict.fromkeys(args.include) if d and d not in ("/usr/include", "/usr/local/include")]
    cmd += [f"-I{d}" for d in dirs] + [f"-D{d}" for d in dict.fromkeys(args.define) if d] + args.flag + [tu]
    r = subprocess.run(cmd, capture_output=True, text=True)
    return r.returncode == 0, r.stdout + r.stderr, tu


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--compiler", required=True)
    ap.add_argument("--include", action="append", default=[])
    ap.add_argument("--define", action="append", default=[])
    ap.add_argument("--flag", action="append", default=[])
    ap.add_argument("--header", action="append", default=[], help="included before every snippet")
    ap.add_argument("--pending", help="file listing FILE#NAME of snippets that may not compile yet")
    ap.add_argument("--list", action="store_true", help="print the snippets and their modes, compile nothing")
    ap.add_argument("docs", nargs="+")
    args = ap.parse_args()

    pending = set()
    if args.pending and os.path.exists(args.pending):
        for l in open(args.pending, encoding="utf-8"):
            l = l.strip()
            if l and not l.startswith("#"):
                pending.add(l.split(None, 1)[0])  # FILE#NAME, then an optional reason

    snippets = [s for d in args.docs for s in extract(d)]
    names = [s.name for s in snippets]
    dup = {n for n in names if names.count(n) > 1}
    if dup:
        print(f"duplicate snippet names: {', '.join(sorted(dup))}", file=sys.stderr)
        return 1
    unknown = pending - set(names)
    if unknown:
        print(f"{args.pending} lists snippets that do not exist: {', '.join(sorted(unknown))}", file=sys.stderr)
        return 1
    if args.list:
        for s in snippets:
            state = "pending" if s.name in pending else s.mode
            print(f"{s.name:32} {state:9} {s.path}:{s.line}")
        return 0

    checked = [s for s in snippets if s.mode != "skip" and s.name not in pending]
    waiting = [s for s in snippets if s.mode != "skip" and s.name in pending]
    failed = False
    with tempfile.TemporaryDirectory(prefix="cyxp2p-snippets-") as tmp:
        if checked:
            ok, log, _ = compile_tu(checked, args, tmp, "snippets")
            if not ok:
                failed = True
                print(log, file=sys.stderr)
                print("docs snippets do not compile (errors above point at the Markdown lines)", file=sys.stderr)
        for s in waiting:
            ok, _, _ = compile_tu([s], args, tmp, "pending")
            if ok:
                failed = True
                print(f"{s.name} ({s.path}:{s.line}) compiles now: remove it from {args.pending}", file=sys.stderr)
    skipped = len(snippets) - len(checked) - len(waiting)
    print(f"docs snippets: {len(checked)} compiled, {len(waiting)} pending, {skipped} skipped")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
