/*
 * flt11.h - what test_flt11.c (C) and flt11_globals.cpp (C++ globals)
 * share for FLT-11: the child's timers and its report.
 */
#ifndef MOCKIT_FLT11_H
#define MOCKIT_FLT11_H

#include <stdbool.h>

#ifdef __cplusplus
extern "C" {
#endif

bool flt11_mode_is(const char *mode);           /* MOCKIT_FLT11 == mode */
void flt11_say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void flt11_arm_all(const char *who);            /* exits on failure */
bool flt11_all_called(void);
void flt11_destroy_all(const char *who);        /* exits on failure */
void flt11_cxx_late_guard(void);                /* flt11_globals.cpp */

#ifdef __cplusplus
}
#endif

#endif /* MOCKIT_FLT11_H */
