#!/bin/sh
# BND-03 (RELIABILITY.md B2): run a test program in a time namespace where
# CLOCK_MONOTONIC reads 10^9 s (~31 years) more than outside, so the time
# arithmetic meets a large "now".  Needs unshare(1) from util-linux >= 2.38
# and CAP_SYS_ADMIN (root in CI); exit 77 (meson: skipped) when the
# namespace cannot be made.
#   run-timens.sh PROGRAM [ARGS...]
set -u
if ! command -v unshare >/dev/null 2>&1; then
    echo "run-timens: no unshare(1): skipped" >&2
    exit 77
fi
if ! unshare --time --monotonic=1000000000 --fork true >/dev/null 2>&1; then
    echo "run-timens: cannot create a time namespace (not root, or kernel < 5.6): skipped" >&2
    exit 77
fi
MOCKIT_EXPECT_TIMENS=1 exec unshare --time --monotonic=1000000000 --fork -- "$@"
