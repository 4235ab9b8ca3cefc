# Front door over meson.  meson.build is the one build description; this
# file only installs missing Debian packages, configures build folders and
# runs meson.  Targets: all check demo install uninstall bench fuzz chaos
# soak stress long check-destructive lint clean.

PREFIX  ?= /usr/local
DESTDIR ?=
B       := build
MESON   := meson
DEPS    := sh scripts/install-deps.sh
# Every build folder gets the same layout: lib/, not a multiarch libdir.
SETUP   := $(MESON) setup --libdir=lib

.PHONY: all deps check check-quick check-valgrind check-helgrind check-hardened check-asan check-tsan \
        demo install uninstall bench fuzz chaos soak stress long check-destructive lint clean

all: $(B)/build.ninja
	$(MESON) compile -C $(B)

$(B)/build.ninja:
	@$(DEPS) build
	$(SETUP) $(B) --prefix=$(abspath $(PREFIX)) -Dbench=true

# ---- tests: the plain suite, then memcheck, helgrind and drd, a hardened
# build, then ASan+UBSan and TSan ----
check:
	@$(DEPS) check
	rm -f $(B)/meson-logs/testlog*.json build-asan/meson-logs/testlog*.json \
	    build-tsan/meson-logs/testlog*.json build-hardened/meson-logs/testlog*.json
	$(MAKE) check-quick check-valgrind check-helgrind check-hardened check-asan check-tsan
	@python3 scripts/test-summary.py $(B) build-hardened build-asan build-tsan

check-quick: all
	$(MESON) test -C $(B) --print-errorlogs --num-processes 2

check-valgrind: all
	$(MESON) test -C $(B) --setup=valgrind --suite memcheck --print-errorlogs --num-processes 2

# RELIABILITY MEM-02: helgrind, then drd, over suite 'threadcheck' (the C
# contract tests, LIFE-01/02/04 at 200 iterations); valgrind-threads.supp.
check-helgrind: all
	$(MESON) test -C $(B) --setup=helgrind --suite threadcheck --print-errorlogs --num-processes 2
	$(MESON) test -C $(B) --setup=drd --suite threadcheck --print-errorlogs --num-processes 2

# RELIABILITY SAN-04: the T1 C suites in a hardened build (the flags
# distributions build with, plus libstdc++'s bounds checks).
HARDEN := -D_FORTIFY_SOURCE=3 -fstack-protector-strong -fstack-clash-protection
check-hardened:
	@$(DEPS) check
	@[ -f build-hardened/build.ninja ] || $(SETUP) build-hardened -Dlua=disabled \
	    -Dc_args="$(HARDEN)" -Dcpp_args="$(HARDEN) -D_GLIBCXX_ASSERTIONS"
	$(MESON) compile -C build-hardened
	$(MESON) test -C build-hardened --suite unit --suite contract --suite reliability \
	    --print-errorlogs --num-processes 2

check-asan:
	@$(DEPS) check
	@[ -f build-asan/build.ninja ] || $(SETUP) build-asan -Dbuildtype=debug \
	    -Db_sanitize=address,undefined -Db_lundef=false -Dlua=disabled
	$(MESON) compile -C build-asan
	$(MESON) test -C build-asan --setup=asan --suite sanitize --print-errorlogs --num-processes 2

check-tsan:
	@$(DEPS) check
	@[ -f build-tsan/build.ninja ] || $(SETUP) build-tsan -Dbuildtype=debug \
	    -Db_sanitize=thread -Db_lundef=false -Dlua_versions=lua5.4
	$(MESON) compile -C build-tsan
	$(MESON) test -C build-tsan --setup=tsan --suite sanitize --print-errorlogs --num-processes 2

# ---- the usage notes' examples, built the way a user builds them ----
demo: all
	@$(DEPS) demo
	$(MESON) install -C $(B) --quiet --destdir $(abspath $(B))/demo-root
	sh tests/demo/run-demo.sh $(abspath $(B))/demo-root $(abspath $(PREFIX))

install: $(B)/build.ninja
	$(MESON) configure $(B) --prefix=$(abspath $(PREFIX))
	$(MESON) compile -C $(B)
	$(MESON) install -C $(B) $(if $(DESTDIR),--destdir $(DESTDIR))

uninstall:
	ninja -C $(B) uninstall

bench: all
	@$(DEPS) bench
	sh bench/run.sh $(B)

# ---- T3 of RELIABILITY.md: long runs a person starts ----
DURATION ?= 600
fuzz:
	@$(DEPS) fuzz
	sh fuzz/run-fuzz.sh $(DURATION)

# FUZZ-05: LIFE-01..08 and LUA-02/03 in a -Dchaos=true build (random
# yields and sleeps at the core's race windows); ROUNDS repeats.
ROUNDS ?= 1
chaos:
	@$(DEPS) check
	sh tests/reliability/run-chaos.sh build-chaos $(ROUNDS)

# SAN-05 (advisory): cppcheck, clang-tidy and gcc -fanalyzer findings.
lint: all
	@$(DEPS) lint
	sh scripts/static-checks.sh $(B)

soak: all
	sh tests/reliability/run-soak.sh $(B) $(DURATION)

stress: all
	@$(DEPS) stress
	sh tests/reliability/run-stress.sh $(B)

# TIM-02/03 long forms (T3): a 10 ms interval beside a clock_nanosleep
# baseline for DURATION seconds (3600 in the catalogue), idle and with
# 10^6 far-future timers armed, one after the other.  Needs a quiet machine.
long: all
	LD_LIBRARY_PATH=$(B)/src $(B)/tests/reliability/rel-stress tim0203 $(DURATION) 0
	LD_LIBRARY_PATH=$(B)/src $(B)/tests/reliability/rel-stress tim0203 $(DURATION) 1000000

# FLT-08a/d, the destructive tier: steps CLOCK_REALTIME by an hour and
# slews the clock 500 ppm with adjtimex (restored on exit).  Root only, on
# a machine whose clock nobody else needs meanwhile.
check-destructive: all
	MOCKIT_DESTRUCTIVE=1 LD_LIBRARY_PATH=$(B)/src $(B)/tests/reliability/rel-flt08

clean:
	rm -rf $(B) build-asan build-tsan build-hardened build-fuzz build-chaos
