# Sourced by the consumer tests: install the build into a fresh temporary
# folder the way a user or a packager does (`meson install --destdir`), and
# set $root to the installed prefix inside it.
# Expects: $meson (the meson command), $builddir, $prefix (the configured
# prefix, absolute).
set -u
work=$(mktemp -d "${TMPDIR:-/tmp}/mockit-consumer.XXXXXX")
trap 'rm -rf "$work"' EXIT
destdir=$work/destdir
root=$destdir$prefix

install_build() {
  # --no-rebuild: meson test has built everything already; --quiet: only
  # errors.  Each test installs into its own folder, so tests may run in
  # parallel.
  if ! $meson install -C "$builddir" --no-rebuild --quiet --destdir "$destdir" > "$work/install.log" 2>&1; then
    echo "FAIL: meson install --destdir $destdir"
    cat "$work/install.log"
    exit 1
  fi
  [ -d "$root" ] || { echo "FAIL: nothing installed under $root"; exit 1; }
}
