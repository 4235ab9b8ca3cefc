#!/usr/bin/env python3
"""Print one closing line for `make check`: 'check: N passed, N failed, N skipped'.

Reads the meson test logs of every build folder given (plain, valgrind,
ASan, TSan runs) and counts each test run once per setup.  Exits 1 if any
failed.  CMocka cases inside an executable are counted from its
'[  PASSED  ] N test(s).' line when present, so the figure is cases, not
executables."""
import json
import pathlib
import re
import sys

passed = failed = skipped = 0
for folder in sys.argv[1:]:
    for log in sorted(pathlib.Path(folder, "meson-logs").glob("testlog*.json")):
        for line in log.read_text().splitlines():
            try:
                t = json.loads(line)
            except ValueError:
                continue
            result = t.get("result")
            # cmocka prints its summary on stderr, the per-case lines on stdout
            out = (t.get("stdout") or "") + "\n" + (t.get("stderr") or "")
            cases = re.findall(r"\[  PASSED  \] (\d+) test", out)
            fails = re.findall(r"\[  FAILED  \] (\d+) test", out)
            plain = re.findall(r"^(\d+) passed, (\d+) failed", out, re.M)
            skips = re.findall(r"\[  SKIPPED \] (\d+) test", out)
            if result == "SKIP":
                skipped += 1
            elif result in ("OK", "EXPECTEDFAIL"):
                if cases or skips:
                    passed += sum(map(int, cases))
                    skipped += sum(map(int, skips))
                elif plain:
                    passed += sum(int(p) for p, _ in plain)
                else:
                    passed += 1
            else:
                failed += max(1, sum(map(int, fails)) + sum(int(f) for _, f in plain))
print(f"check: {passed} passed, {failed} failed, {skipped} skipped")
sys.exit(1 if failed else 0)
