#!/usr/bin/env python3
"""Compile (and run) every program in the EXAMPLES section of the man pages.

Every literal display (.Bd -literal ... .Ed) in EXAMPLES that contains an
#include is a complete C program: it is unescaped from roff, given a #line
directive pointing back at the page, compiled against the public header with
warnings as errors, linked with the libmockit of the build folder and, with
--run, run (it must exit 0).  A display of a page that documents Lua (.Dt
LUAMOCKIT) is a Lua chunk: it is compiled with load() by the Lua interpreter
given with --lua, not run.  Like curl's verify-examples.pl.

usage: check-examples.py --cc 'cc' --include DIR --libdir DIR [--run]
                         [--lua lua5.4] PAGE...
"""
import argparse
import os
import re
import shlex
import subprocess
import sys
import tempfile

ESCAPES = {
    r"\e": "\\",
    r"\\": "\\",
    r"\&": "",
    r"\-": "-",
    r"\(dq": '"',
    r"\(aq": "'",
    r"\(ga": "`",
    r"\(ti": "~",
    r"\(ha": "^",
}
ESCAPE_RE = re.compile(r"\\(\([a-z]{2}|.)")


def unescape(line, where):
    def repl(m):
        esc = m.group(0)
        if esc not in ESCAPES:
            raise ValueError(f"{where}: roff escape {esc!r} not handled by the checker")
        return ESCAPES[esc]
    return ESCAPE_RE.sub(repl, line)


def examples(path):
    """Yield (first source line number, text) of each display in EXAMPLES."""
    section = None
    block = None
    with open(path, encoding="utf-8") as f:
        for no, raw in enumerate(f, 1):
            line = raw.rstrip("\n")
            if block is not None:
                if line.startswith(".Ed"):
                    yield block[0], "\n".join(block[1]) + "\n"
                    block = None
                elif line.startswith(".") and not line.startswith(".\\\""):
                    raise ValueError(f"{path}:{no}: macro {line!r} inside an example")
                else:
                    block[1].append(unescape(line, f"{path}:{no}"))
                continue
            if line.startswith(".Sh "):
                section = line[4:].strip()
            elif section == "EXAMPLES" and line.startswith(".Bd -literal"):
                block = (no + 1, [])


def is_lua_page(path):
    with open(path, encoding="utf-8") as f:
        return any(l.startswith(".Dt LUAMOCKIT") for l in f)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cc", required=True, help="C compiler command line")
    ap.add_argument("--include", required=True)
    ap.add_argument("--libdir", required=True)
    ap.add_argument("--lua", default="")
    ap.add_argument("--run", action="store_true")
    ap.add_argument("pages", nargs="+")
    a = ap.parse_args()

    cc = shlex.split(a.cc)
    failures = 0
    checked = 0
    with tempfile.TemporaryDirectory() as tmp:
        for page in a.pages:
            name = os.path.basename(page)
            lua_page = is_lua_page(page)
            for n, (line, text) in enumerate(examples(page)):
                label = f"{name} example {n + 1} (line {line})"
                if lua_page:
                    if not a.lua:
                        print(f"SKIP {label}: no Lua interpreter given")
                        continue
                    r = subprocess.run(
                        [a.lua, "-e", "local s = io.read('a') or io.read('*a'); "
                         "assert(load(s, '=" + name + "'))"],
                        input=text, text=True, capture_output=True)
                    checked += 1
                    if r.returncode != 0:
                        failures += 1
                        print(f"FAIL {label}: does not compile as Lua\n{r.stderr}")
                    else:
                        print(f"ok   {label}: Lua chunk compiles")
                    continue
                if "#include" not in text:
                    continue      # a shell command or a fragment
                src = os.path.join(tmp, f"ex{checked}.c")
                exe = os.path.join(tmp, f"ex{checked}")
                with open(src, "w", encoding="utf-8") as f:
                    f.write(f'#line {line} "{name}"\n' + text)
                cmd = cc + ["-std=c11", "-pedantic", "-Wall", "-Wextra", "-Werror",
                            "-I", a.include, src, "-L", a.libdir, "-lmockit",
                            "-o", exe]
                checked += 1
                r = subprocess.run(cmd, text=True, capture_output=True)
                if r.returncode != 0:
                    failures += 1
                    print(f"FAIL {label}: does not compile\n$ {shlex.join(cmd)}\n"
                          f"{r.stdout}{r.stderr}")
                    continue
                if not a.run:
                    print(f"ok   {label}: compiles")
                    continue
                env = dict(os.environ)
                env["LD_LIBRARY_PATH"] = a.libdir + (
                    ":" + env["LD_LIBRARY_PATH"] if env.get("LD_LIBRARY_PATH") else "")
                try:
                    r = subprocess.run([exe], text=True, capture_output=True,
                                       env=env, timeout=30)
                except subprocess.TimeoutExpired:
                    failures += 1
                    print(f"FAIL {label}: still running after 30 s")
                    continue
                out = "".join("     | " + l + "\n" for l in (r.stdout + r.stderr).splitlines())
                if r.returncode != 0:
                    failures += 1
                    print(f"FAIL {label}: exit status {r.returncode}\n{out}")
                else:
                    print(f"ok   {label}: compiles and runs\n{out}", end="")
    if checked == 0:
        print("no examples found")
        return 1
    print(f"{checked} examples checked, {failures} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
