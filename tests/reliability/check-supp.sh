#!/bin/sh
# MEM-01/02: the valgrind suppression files hide glibc / ld.so / libstdc++
# internals only: no entry may name a Mockit_* or mockit:: frame or the
# library object (checked here), and each file must parse for the tools it
# is meant for (valgrind refuses a malformed file).
# usage: check-supp.sh memcheck:FILE helgrind,drd:FILE ...
st=0
for arg in "$@"; do
    tools=${arg%%:*}
    f=${arg#*:}
    if grep -nE '^[[:space:]]*(fun|obj|src):.*([Mm]ockit|_ZN6mockit)' "$f"; then
        echo "check-supp: $f: an entry above names a mockit frame" >&2
        st=1
    fi
    if command -v valgrind >/dev/null 2>&1; then
        for t in $(echo "$tools" | tr ',' ' '); do
            if ! valgrind --tool="$t" --quiet --suppressions="$f" /bin/true >/dev/null 2>&1; then
                echo "check-supp: $f: valgrind --tool=$t does not accept it:" >&2
                valgrind --tool="$t" --quiet --suppressions="$f" /bin/true >&2
                st=1
            fi
        done
    fi
done
[ $st = 0 ] && echo "check-supp: $# file(s) clean"
exit $st
