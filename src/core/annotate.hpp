// Annotations for helgrind and drd (RELIABILITY MEM-02).
//
// Both tools see happens-before only through the pthread calls they
// intercept, and take a plain load or store of an std::atomic for a racy
// access.  Nearly all of the core's hand-offs go through mu_ and its
// condition variables, which they understand; the exceptions are announced
// here: the double-checked creation of the scheduler (g_scheduler, a
// release store read with acquire: it publishes the scheduler), the
// clock thread's spin deadline (spin_until_, relaxed: a hint only) and
// the futex words the library threads sleep on (futex.hpp: written under
// mu_, read by valgrind for the kernel outside it; what a sleeper acts on
// it reads under mu_ again).
//   MOCKIT_ATOMIC_VAR(x)      x is an atomic: accesses to x itself are not
//                             races (helgrind/drd treat a plain mov as one)
//   MOCKIT_HAPPENS_BEFORE(p)  before the release store of p
//   MOCKIT_HAPPENS_AFTER(p)   after an acquire load of p that saw the store
// The helgrind.h happens-before request codes are the ones drd implements
// too (drd.h: VG_USERREQ__DRD_ANNOTATE_HAPPENS_BEFORE/AFTER); "ignore this
// variable" differs between the tools, so both requests are issued (each
// tool ignores the other's).  Outside valgrind a request is a few no-op
// instructions; without the valgrind headers the macros are empty.
#pragma once

#if defined(__has_include)
#if __has_include(<valgrind/helgrind.h>) && __has_include(<valgrind/drd.h>)
#include <valgrind/helgrind.h>
#include <valgrind/drd.h>
#define MOCKIT_HAVE_TOOL_ANNOTATIONS 1
#endif
#endif

#ifdef MOCKIT_HAVE_TOOL_ANNOTATIONS
#define MOCKIT_ATOMIC_VAR(x)                                  \
    do {                                                      \
        VALGRIND_HG_DISABLE_CHECKING(&(x), sizeof(x));        \
        DRD_IGNORE_VAR(x);                                    \
    } while (0)
#define MOCKIT_HAPPENS_BEFORE(p) ANNOTATE_HAPPENS_BEFORE(p)
#define MOCKIT_HAPPENS_AFTER(p) ANNOTATE_HAPPENS_AFTER(p)
#else
#define MOCKIT_ATOMIC_VAR(x) ((void)0)
#define MOCKIT_HAPPENS_BEFORE(p) ((void)0)
#define MOCKIT_HAPPENS_AFTER(p) ((void)0)
#endif
