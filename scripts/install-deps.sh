#!/bin/sh
# Install the Debian packages a make target needs, and only those missing.
# Usage: scripts/install-deps.sh build|check|demo|bench|fuzz|lint|stress
# Says what it installs; installs nothing when everything is present.
set -eu

build="meson ninja-build pkg-config g++ gcc"
lua="lua5.1 lua5.2 lua5.3 lua5.4 luajit liblua5.1-0-dev liblua5.2-dev liblua5.3-dev liblua5.4-dev libluajit-5.1-dev"
check="g++-multilib qemu-user libcmocka-dev valgrind mandoc abigail-tools python3 gdb util-linux libuv1-dev lua-luv libbenchmark-dev"
bench="rt-tests linux-perf"
fuzz="clang libclang-rt-14-dev"
stress="stress-ng"
lint="cppcheck clang-tidy-14"

case "${1:-build}" in
  build) want="$build" ;;
  demo)  want="$build $lua" ;;
  check) want="$build $lua $check" ;;
  bench) want="$build $lua $check $bench" ;;
  fuzz)  want="$build $check $fuzz" ;;
  lint)  want="$build $check $lint" ;;
  stress) want="$build $check $stress" ;;
  *) echo "usage: $0 build|check|demo|bench|fuzz|lint|stress" >&2; exit 2 ;;
esac

missing=""
for p in $want; do
  status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
  case "$status" in
    *" installed") ;;
    *) missing="$missing $p" ;;
  esac
done
[ -z "$missing" ] && exit 0

echo "mockit: installing missing Debian packages:$missing"
if [ "$(id -u)" -eq 0 ]; then sudo=""; elif command -v sudo >/dev/null; then sudo="sudo"; else
  echo "mockit: not root and no sudo; install them by hand:$missing" >&2; exit 1
fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
# shellcheck disable=SC2086
$sudo apt-get install -y -qq --no-install-recommends $missing >/dev/null
echo "mockit: installed:$missing"
