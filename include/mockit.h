/*
 * mockit.h - one-shot and interval timer callbacks with millisecond
 * arguments, and a blocking millisecond sleep.
 *
 * The whole public contract of libmockit.so.1.  Everything here is ABI:
 * the prototypes, the errno convention and the layout of struct data.
 * See mockit(3) for the model (threads, signals, fork, valgrind).
 *
 * Errors: functions returning int give 0 on success and a positive errno
 * value otherwise (pthread style).  Mockit_overrun is the one exception: it
 * returns a count, or -1 with errno set (POSIX timer_getoverrun style).
 */
#ifndef MOCKIT_H
#define MOCKIT_H

#include <stdint.h>     /* uint32_t, uint64_t */
#include <sys/types.h>  /* ssize_t, time_t */
#include <unistd.h>     /* sleep(3): the usage notes' example needs it */

#define MOCKIT_VERSION_MAJOR 1
#define MOCKIT_VERSION_MINOR 0
#define MOCKIT_VERSION_PATCH 0
#define MOCKIT_VERSION_STRING "1.0.0"

#if defined(__GNUC__) && __GNUC__ >= 4
#  define MOCKIT_API __attribute__((visibility("default")))
#else
#  define MOCKIT_API
#endif

#ifdef __cplusplus
extern "C" {
#endif

/*
 * One timer.  The layout is ABI and frozen for SONAME 1: three fields,
 * 24 bytes on LP64, 16 on ILP32.  The library keeps its own bookkeeping
 * elsewhere, so the struct may be static, automatic or from
 * Mockit_data_init(), and may be left uninitialised apart from cb.
 */
struct data {
    void *(*cb)(void *arg); /* called on expiry with this struct's address */
    void *stuff;            /* the caller's; the library never touches it */
    uint64_t timer_id;      /* written by Mockit_oneoff / Mockit_getit on
                               every arm: unique per arm, never 0 */
};

/* Sleep ms milliseconds on CLOCK_MONOTONIC in the calling thread.
 * Returns 0 (and *left = 0, *error = 0) when fully slept, EINTR (and
 * *error = EINTR, *left = milliseconds still to sleep, rounded up, at
 * most SSIZE_MAX) when a signal handler interrupted it.  left and error
 * may be NULL. */
MOCKIT_API int Mockit_bsleep(uint32_t ms, ssize_t *left, int *error);

/* A zeroed struct data from the heap, freed by Mockit_destroy().
 * NULL with errno = ENOMEM when out of memory. */
MOCKIT_API struct data *Mockit_data_init(void);

/* Call data->cb(data) once, ms milliseconds from now (0: as soon as
 * possible).  Re-arms the struct if it is already armed.
 * 0, or EINVAL (NULL data or cb), ECANCELED (a destroy of this struct is
 * in progress), ENOMEM, EAGAIN (no library thread could be started). */
MOCKIT_API int Mockit_oneoff(uint32_t ms, struct data *data);

/* Call data->cb(data) every ms milliseconds until destroyed; the k-th
 * call is due at start + k*ms.  ms == 0 is EINVAL; otherwise as
 * Mockit_oneoff(). */
MOCKIT_API int Mockit_getit(uint32_t ms, struct data *data);

/* Stop the struct's timer.  On return its callback is not running and
 * will never run again (from inside that callback: it does not wait, the
 * stop takes effect when the callback returns).  Frees the struct if
 * Mockit_data_init() made it.  0, EINVAL (a pointer the library does not
 * know; it is not dereferenced) or EDEADLK (two callbacks destroying each
 * other: the second one gets EDEADLK instead of waiting forever). */
MOCKIT_API int Mockit_destroy(struct data *data);

/* Inside data's own interval callback: how many expirations were missed
 * and merged into this call (0 if none).  -1 with errno = EINVAL when
 * called anywhere else. */
MOCKIT_API int Mockit_overrun(const struct data *data);

/* Wall-clock time: seconds since the epoch and milliseconds since the
 * last second.  0 or EINVAL (a NULL pointer). */
MOCKIT_API int Mockit_gettime(time_t *secs, long *ms);

/* Wall-clock time in milliseconds since the epoch.  0 or EINVAL. */
MOCKIT_API int Mockit_mstimestamp(uint64_t *ms);

/* The library's version, "MAJOR.MINOR.PATCH"; a static string. */
MOCKIT_API const char *Mockit_version(void);

#ifdef __cplusplus
}
#endif

#endif /* MOCKIT_H */
