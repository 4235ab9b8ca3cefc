/*
 * mt_hb.h - C11 atomics that helgrind and drd understand (MEM-02).
 *
 * The test programs hand results from callbacks (library threads) to the
 * test thread through <stdatomic.h> operations: a callback writes plain
 * fields, then atomic_store(&done, 1); the test thread polls
 * atomic_load(&done) and reads the fields.  That is race-free in the C11
 * memory model (and ThreadSanitizer knows it), but helgrind and drd only
 * see happens-before through pthread calls and their client requests, so
 * every such hand-off would be reported as a race in the *test* code and
 * drown anything real.
 *
 * So, when the valgrind headers are there, the atomic operations the tests
 * use are redefined to say what C11 says: a store (release) is an
 * ANNOTATE_HAPPENS_BEFORE on the object, a load (acquire) an
 * ANNOTATE_HAPPENS_AFTER, a read-modify-write both.  The helgrind.h
 * request codes are the ones drd implements too (drd.h
 * VG_USERREQ__DRD_ANNOTATE_HAPPENS_BEFORE/AFTER = HG base + 256 + 33/34),
 * so one header serves both tools.  Outside valgrind a client request is a
 * handful of no-op instructions.
 *
 * Only the test programs' own atomics are annotated; the library's
 * synchronisation is checked as it is.  Operations written as operators on
 * an _Atomic object (x++, x = v) are not seen: use the functions.
 */
#ifndef MOCKIT_MT_HB_H
#define MOCKIT_MT_HB_H

#include <stdatomic.h>

#if defined(__has_include)
#if __has_include(<valgrind/helgrind.h>) && !defined(MT_NO_HB_ANNOTATIONS)
#include <valgrind/helgrind.h>
#define MT_HB_ANNOTATED 1
#endif
#endif

#ifdef MT_HB_ANNOTATED

#define MT_HB_AFTER_(p) ANNOTATE_HAPPENS_AFTER((void *)(p))
#define MT_HB_BEFORE_(p) ANNOTATE_HAPPENS_BEFORE((void *)(p))

#undef atomic_load
#define atomic_load(p) __extension__({                                     \
        __auto_type mt_p_ = (p);                                           \
        __auto_type mt_v_ = atomic_load_explicit(mt_p_, memory_order_seq_cst); \
        MT_HB_AFTER_(mt_p_);                                               \
        mt_v_; })

/* A store announces itself before (what it publishes) and after (the
 * store itself: a reader that saw it may then reuse the object, e.g. a
 * memset of the struct for the next round). */
#undef atomic_store
#define atomic_store(p, v) __extension__({                                 \
        __auto_type mt_p_ = (p);                                           \
        MT_HB_BEFORE_(mt_p_);                                              \
        atomic_store_explicit(mt_p_, (v), memory_order_seq_cst);           \
        MT_HB_BEFORE_(mt_p_); })

#define MT_HB_RMW_(op, p, ...) __extension__({                             \
        __auto_type mt_p_ = (p);                                           \
        MT_HB_BEFORE_(mt_p_);                                              \
        __auto_type mt_v_ = op(mt_p_, __VA_ARGS__);                        \
        MT_HB_AFTER_(mt_p_);                                               \
        mt_v_; })

#undef atomic_exchange
#define atomic_exchange(p, v) \
    MT_HB_RMW_(atomic_exchange_explicit, p, (v), memory_order_seq_cst)
#undef atomic_fetch_add
#define atomic_fetch_add(p, v) \
    MT_HB_RMW_(atomic_fetch_add_explicit, p, (v), memory_order_seq_cst)
#undef atomic_fetch_sub
#define atomic_fetch_sub(p, v) \
    MT_HB_RMW_(atomic_fetch_sub_explicit, p, (v), memory_order_seq_cst)
#undef atomic_fetch_or
#define atomic_fetch_or(p, v) \
    MT_HB_RMW_(atomic_fetch_or_explicit, p, (v), memory_order_seq_cst)
#undef atomic_fetch_and
#define atomic_fetch_and(p, v) \
    MT_HB_RMW_(atomic_fetch_and_explicit, p, (v), memory_order_seq_cst)
#undef atomic_compare_exchange_strong
#define atomic_compare_exchange_strong(p, e, v)                            \
    MT_HB_RMW_(atomic_compare_exchange_strong_explicit, p, (e), (v),       \
               memory_order_seq_cst, memory_order_seq_cst)
#undef atomic_compare_exchange_weak
#define atomic_compare_exchange_weak(p, e, v)                              \
    MT_HB_RMW_(atomic_compare_exchange_weak_explicit, p, (e), (v),         \
               memory_order_seq_cst, memory_order_seq_cst)

#endif /* MT_HB_ANNOTATED */

#endif /* MOCKIT_MT_HB_H */
