/*
 * churn.h - LIFE-07 concurrent churn, shared by rel-life (T1: 4 threads x
 * 5000 operations) and rel-stress (T3: 8 threads x 100 000).
 *
 * Each thread owns 8 slots, half caller-owned structs and half from
 * Mockit_data_init, and applies random operations to them: data_init (for
 * an empty owned slot), oneoff 0-5 ms, getit 1-7 ms, re-arm, destroy.
 * Callbacks ask Mockit_overrun (must be >= 0 inside their own callback)
 * and now and then re-arm themselves.  Library calls never run a CMocka
 * assertion: everything is counted and the caller checks the result.
 */
#ifndef MOCKIT_CHURN_H
#define MOCKIT_CHURN_H

#include <stdint.h>

struct churn_cfg {
    int threads;
    unsigned ops;            /* per thread */
    uint64_t seed;
    unsigned sample_us;      /* the main thread samples library threads this often
                                (0: every 5 ms; CHURN_NO_SAMPLING: never -- reading
                                /proc opens a descriptor, which a caller that
                                counts descriptors meanwhile would see) */
};

#define CHURN_NO_SAMPLING 0xffffffffu

struct churn_result {
    unsigned long long ops, calls;
    unsigned long overlap;          /* a timer's callback entered while it ran */
    unsigned long after_destroy;    /* a callback began after destroy returned */
    unsigned long bad_overrun;      /* Mockit_overrun < 0 inside its own callback */
    unsigned long failures;         /* unexpected return values */
    unsigned long late_calls;       /* calls in the 50 ms after the final destroy */
    int max_lib_threads;
    char first_failure[200];
};

/* Runs the churn and destroys everything; returns 0 when no invariant broke. */
int churn_run(const struct churn_cfg *cfg, struct churn_result *res);

#endif
