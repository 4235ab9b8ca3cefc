/*
 * luamockit.c - the Lua module over libmockit's public C ABI.
 *
 * Lua is never called from a library thread.  A timer's C callback (it
 * runs on a libmockit thread) only locks its state's queue, adds the
 * expirations to the timer's count, moves the timer into the ready part of
 * the queue's slot array if it was idle, and wakes t.wait() and the t.fd()
 * descriptor when the queue turns non-empty.  The script drains the queue
 * with t.process_events(), which calls each Lua callback once per
 * expiration.
 *
 * Model (one queue per lua_State; see luamockit(3)):
 *
 *   lm_queue  one per main state, the body of a full userdata kept in the
 *             registry under &lm_queue_key and as the upvalue of every
 *             module function.  Its __gc (lua_close) destroys every timer
 *             of the state (Mockit_destroy waits for a running C callback)
 *             before anything is freed, so no library thread ever touches
 *             a closed state.  No lua_State pointer is ever stored: the
 *             callbacks run on whichever thread (coroutine) drains.
 *   lm_timer  the body of the timer userdata; it embeds the struct data
 *             handed to libmockit (d.stuff points to the queue).  An armed
 *             timer (and a fired one-shot whose event is not yet
 *             delivered) is pinned by a slot of the queue's anchor store
 *             (a table of fixed-size blocks, referenced from the registry)
 *             holding the userdata.  Its callback is the userdata's user
 *             value (Lua 5.3, 5.4) or a second anchor slot (5.1, 5.2,
 *             LuaJIT).  Both are released by destroy, by delivering a
 *             one-shot's event, and by __gc.  A one-shot is only an
 *             lm_timer (its count is where it sits: ready = 1 expiration,
 *             in the batch = 1); an interval timer is an lm_ival, with
 *             64-bit counts.
 *
 * Memory (issue #5): one userdata per timer, one 16-byte anchor slot, one
 * pointer in q->slot.  q->slot holds every timer libmockit may know, in
 * three parts, and each timer knows its index:
 *
 *   [0, hlen)      the batch being delivered: a min-heap on the due time of
 *                  each timer's oldest undelivered expiration, ties in
 *                  arming order (arm times are made strictly increasing)
 *   [hlen, rlen)   ready: expirations counted, not yet in a batch
 *   [rlen, live)   idle: nothing waiting
 *
 * Coalescing: undrained expirations of one timer are a count, so memory is
 * O(timers) however long the script sleeps.  process_events first makes
 * the ready part (and the counts of timers already in the batch) the batch
 * and then makes one call per expiration in due order.  Expirations that
 * arrive while it runs wait for the next call, so a callback that re-arms
 * oneoff(0) cannot keep one process_events call busy forever.  A callback
 * error propagates unchanged (lua_call, not lua_pcall); the heap is
 * consistent before every call, so the events not yet handled stay queued.
 *
 * Locking: q->mu guards every timer's count/batch/where, the ready and idle
 * parts of q->slot (library threads move timers from idle to ready), the
 * part boundaries, and the queue's pending/entries/waiters/efd.  The heap
 * part ([0, hlen): its slots and those timers' idx) is only touched by the
 * thread running the state, so heap sifts run without the lock; library
 * threads never touch it.  The anchor store and user values are only
 * touched by the state.  Mockit_destroy is never called with q->mu held
 * (the callback it may wait for takes q->mu).
 */
#define _GNU_SOURCE 1

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include <mockit.h>

#include "compat.h"

#define LM_EXPORT __attribute__((visibility("default")))
#define LM_TIMER_MT "luamockit.timer"
#define LM_QUEUE_MT "luamockit.queue"
#define LM_MS_MAX 4294967295.0

typedef struct lm_queue lm_queue;
typedef struct lm_timer lm_timer;

enum lm_state {
    LM_NEW,     /* not armed yet (or arming failed) */
    LM_ARMED,   /* armed: libmockit may call lm_expired */
    LM_FIRED,   /* a one-shot whose event was delivered */
    LM_DEAD     /* destroyed; the object is inert */
};

enum lm_where {  /* the part of q->slot a timer is in (q->mu) */
    LM_IDLE,    /* nothing waiting (also: not in q->slot at all) */
    LM_READY,   /* count > 0, batch == 0 */
    LM_HEAP     /* batch > 0: in the heap */
};

/* 48 bytes on LP64: with Lua 5.4's one-user-value header a one-shot's
 * userdata is 104 bytes (a 112-byte malloc chunk). */
struct lm_timer {
    struct data d;          /* first member: &t->d == (struct data *)t;
                               d.stuff: the queue, NULL once gone */
    uint64_t due;           /* due time of the oldest undelivered
                               expiration (the heap key) */
    uint32_t ms;
    uint32_t idx;           /* index in q->slot (q->mu, see above) */
    uint32_t anchor;        /* its slot in the anchor store, 0: none */
#ifndef LM_CB_IN_UV
    uint32_t cb_anchor;     /* the callback's slot there, 0: none */
#endif
    unsigned char interval, state, where;
};

/* An interval timer.  The counts can pass 2^32 in a long-running script
 * (a 1 ms interval undrained for 50 days, or delivered for 50 days). */
typedef struct lm_ival {
    lm_timer b;
    uint64_t t0;            /* arm time (a one-shot's is due - ms) */
    uint64_t count;         /* expirations not yet in a batch (q->mu) */
    uint64_t batch;         /* expirations in the batch heap (q->mu) */
    uint64_t consumed;      /* expirations delivered or dropped */
} lm_ival;

#define IV(t) ((lm_ival *)(t))

struct lm_queue {
    pthread_mutex_t mu;
    pthread_cond_t cv;      /* signalled when pending turns non-zero */
    uint64_t pending;       /* calls waiting: sum of count + batch (q->mu) */
    uint64_t entries;       /* timers with count + batch > 0 (q->mu) */
    uint64_t hcnt;          /* heap timers with count > 0 (q->mu) */
    int waiters;            /* threads blocked in t.wait() (q->mu) */
    int efd;                /* eventfd, -1 until t.fd() (q->mu) */
    int closed;             /* set by __gc: the state is closing */
    lm_timer **slot;        /* every timer libmockit may know: see above */
    size_t hlen, rlen, live, cap;
    uint64_t last_t0;       /* the latest arm time */
    int store_ref;          /* registry reference to the anchor store */
    uint32_t afree;         /* first free anchor slot, 0: none */
    uint32_t anext;         /* first never-used anchor slot (from 1) */
    uint32_t nblocks;       /* blocks in the anchor store */
    lm_queue *gprev, *gnext;/* every queue of the process (g_mu), for fork */
};

static char lm_queue_key = 'q';   /* its address is the registry key */

/* ---- process-wide list of queues, for the fork handlers ---- */

static pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER;
static lm_queue *g_queues;
static pthread_once_t g_once = PTHREAD_ONCE_INIT;

static void init_queue_sync(lm_queue *q) {
    pthread_condattr_t ca;
    pthread_mutex_init(&q->mu, NULL);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&q->cv, &ca);
    pthread_condattr_destroy(&ca);
}

/* fork(): no library thread may hold a queue lock in the child, and the
 * child's t.fd() must not share the parent's eventfd (the parent's
 * callbacks write to it).  The child keeps the fd number but gets a fresh
 * eventfd behind it, readable iff the child's copy of the queue has
 * events. */
static void atfork_prepare(void) {
    lm_queue *q;
    pthread_mutex_lock(&g_mu);
    for (q = g_queues; q; q = q->gnext) pthread_mutex_lock(&q->mu);
}

static void atfork_parent(void) {
    lm_queue *q;
    for (q = g_queues; q; q = q->gnext) pthread_mutex_unlock(&q->mu);
    pthread_mutex_unlock(&g_mu);
}

static void atfork_child(void) {
    lm_queue *q;
    for (q = g_queues; q; q = q->gnext) {
        init_queue_sync(q);
        q->waiters = 0;
        if (q->efd >= 0) {
            int nfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
            if (nfd < 0) {
                /* No fd left (EMFILE): let go of the parent's eventfd
                 * first, so that its number is free for the child's own
                 * and the two processes never share one. */
                close(q->efd);
                nfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
            }
            if (nfd < 0) {
                q->efd = -1;    /* the next t.fd() tries again */
            } else {
                if (nfd != q->efd) {
                    dup3(nfd, q->efd, O_CLOEXEC);
                    close(nfd);
                }
                if (q->pending > 0) {
                    uint64_t one = 1;
                    ssize_t w = write(q->efd, &one, sizeof one);
                    (void)w;
                }
            }
        }
    }
    pthread_mutex_init(&g_mu, NULL);
}

static void register_atfork(void) {
    pthread_atfork(atfork_prepare, atfork_parent, atfork_child);
}

/* ---- small helpers ---- */

static uint64_t mono_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static const char *errno_name(int e) {
    switch (e) {
    case EINVAL: return "EINVAL";
    case ENOMEM: return "ENOMEM";
    case EAGAIN: return "EAGAIN";
    case EINTR: return "EINTR";
    case ECANCELED: return "ECANCELED";
    case EDEADLK: return "EDEADLK";
    case EMFILE: return "EMFILE";
    case ENFILE: return "ENFILE";
    case EPERM: return "EPERM";
    case ENOSYS: return "ENOSYS";
    case EBUSY: return "EBUSY";
    case ETIMEDOUT: return "ETIMEDOUT";
    case ENODEV: return "ENODEV";
    default: return "EUNKNOWN";
    }
}

/* luv's fail triple: nil, "EINVAL: Invalid argument", "EINVAL". */
static int push_fail(lua_State *L, int e) {
    lua_pushnil(L);
    lua_pushfstring(L, "%s: %s", errno_name(e), strerror(e));
    lua_pushstring(L, errno_name(e));
    return 3;
}

/* luaL_argerror names the function from the caller's debug information;
 * when there is none (a tail call, or pcall(t.getit, ...) under Lua 5.1 and
 * LuaJIT) use the module's own name for it rather than '?'. */
static int arg_error(lua_State *L, int i, const char *fname, const char *msg) {
    lua_Debug ar;
    if (lua_getstack(L, 0, &ar) && lua_getinfo(L, "n", &ar) && ar.name)
        return luaL_argerror(L, i, msg);
    return luaL_error(L, "bad argument #%d to '%s' (%s)", i, fname, msg);
}

static int type_error(lua_State *L, int i, const char *fname,
                      const char *expected) {
    const char *msg = lua_pushfstring(L, "%s expected, got %s", expected,
                                      luaL_typename(L, i));
    return arg_error(L, i, fname, msg);
}

/* A millisecond count: an integer 0..4294967295.  Strings are not coerced;
 * negative, non-integral, NaN and infinite numbers are argument errors. */
static uint32_t check_ms(lua_State *L, int i, const char *fname) {
    lua_Number n;
    if (lua_type(L, i) != LUA_TNUMBER) type_error(L, i, fname, "number");
    if (lm_isinteger(L, i)) {
        lua_Integer v = lua_tointeger(L, i);
        if (v < 0 || (uint64_t)v > UINT32_MAX)
            arg_error(L, i, fname, "out of range (0..4294967295 ms)");
        return (uint32_t)v;
    }
    n = lua_tonumber(L, i);
    if (isnan(n) || isinf(n) || floor(n) != n)
        arg_error(L, i, fname, "number has no integer representation");
    if (n < 0 || n > LM_MS_MAX)
        arg_error(L, i, fname, "out of range (0..4294967295 ms)");
    return (uint32_t)n;
}

static int opt_bool(lua_State *L, int i, const char *fname) {
    int t = lua_type(L, i);
    if (t == LUA_TNONE || t == LUA_TNIL) return 0;
    if (t != LUA_TBOOLEAN) type_error(L, i, fname, "boolean");
    return lua_toboolean(L, i);
}

static int is_callable(lua_State *L, int i) {
    int callable;
    if (lua_type(L, i) == LUA_TFUNCTION) return 1;
    if (!lua_getmetatable(L, i)) return 0;
    lua_getfield(L, -1, "__call");
    callable = !lua_isnil(L, -1);
    lua_pop(L, 2);
    return callable;
}

static lm_queue *upqueue(lua_State *L) {
    lm_queue *q = (lm_queue *)lua_touserdata(L, lua_upvalueindex(1));
    if (q->closed) luaL_error(L, "luamockit: the state is closing");
    return q;
}

/* ---- the eventfd: readable exactly while pending > 0 (q->mu held) ---- */

static void fd_raise(lm_queue *q) {
    if (q->efd >= 0) {
        uint64_t one = 1;
        ssize_t w = write(q->efd, &one, sizeof one);
        (void)w;
    }
}

static void fd_clear(lm_queue *q) {
    if (q->efd >= 0) {
        uint64_t v;
        ssize_t r = read(q->efd, &v, sizeof v);
        (void)r;
    }
}

/* ---- q->slot: heap | ready | idle (see the top of the file) ---- */

#define LM_NOFIX ((size_t)-1)

/* An interval's k-th due time. */
static uint64_t due_of_ival(const lm_timer *t, uint64_t k) {
    uint64_t step = (uint64_t)t->ms * 1000000u, t0 = IV(t)->t0;
    if (step != 0 && k > (UINT64_MAX - t0) / step) return UINT64_MAX;
    return t0 + k * step;
}

/* Arm time: strictly increasing per queue, so it orders ties as armed. */
static uint64_t arm_time(const lm_timer *t) {
    return t->interval ? IV(t)->t0 : t->due - (uint64_t)t->ms * 1000000u;
}

/* Expirations waiting, count + batch (q->mu held). */
static uint64_t waiting(const lm_timer *t) {
    if (t->interval) return IV(t)->count + IV(t)->batch;
    return t->where != LM_IDLE;
}

static int before(const lm_timer *a, const lm_timer *b) {
    return a->due < b->due || (a->due == b->due && arm_time(a) < arm_time(b));
}

static void slot_set(lm_queue *q, size_t i, lm_timer *t) {
    q->slot[i] = t;
    t->idx = (uint32_t)i;
}

static void slot_swap(lm_queue *q, size_t i, size_t j) {
    lm_timer *a = q->slot[i];
    slot_set(q, i, q->slot[j]);
    slot_set(q, j, a);
}

/* The heap part: the state thread only, no lock needed. */
static void heap_up(lm_queue *q, size_t i) {
    lm_timer *t = q->slot[i];
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (!before(t, q->slot[p])) break;
        slot_set(q, i, q->slot[p]);
        i = p;
    }
    slot_set(q, i, t);
}

static void heap_down(lm_queue *q, size_t i) {
    lm_timer *t = q->slot[i];
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= q->hlen) break;
        if (c + 1 < q->hlen && before(q->slot[c + 1], q->slot[c])) c++;
        if (!before(q->slot[c], t)) break;
        slot_set(q, i, q->slot[c]);
        i = c;
    }
    slot_set(q, i, t);
}

static void heap_fix(lm_queue *q, size_t i) {
    lm_timer *t = q->slot[i];
    heap_up(q, i);
    heap_down(q, t->idx);
}

/* Take t out of the heap (q->mu held): it becomes the first ready slot.
 * Returns the slot the heap's last timer moved to, to be fixed with
 * heap_fix (or heap_down at 0) by the state thread, or LM_NOFIX. */
static size_t heap_leave(lm_queue *q, lm_timer *t) {
    size_t i = t->idx, last = --q->hlen;
    t->where = LM_READY;
    if (i == last) return LM_NOFIX;
    slot_set(q, i, q->slot[last]);
    slot_set(q, last, t);
    return i;
}

static void ready_to_idle(lm_queue *q, lm_timer *t) {   /* q->mu held */
    slot_swap(q, t->idx, --q->rlen);
    t->where = LM_IDLE;
}

static void idle_to_ready(lm_queue *q, lm_timer *t) {   /* q->mu held */
    slot_swap(q, t->idx, q->rlen++);
    t->where = LM_READY;
}

static void idle_remove(lm_queue *q, lm_timer *t) {     /* q->mu held */
    slot_set(q, t->idx, q->slot[--q->live]);
    q->slot[q->live] = NULL;
}

/* ---- the anchor store (state thread) ----
 *
 * What pins an armed timer (and, on 5.1 and 5.2, its callback): a table
 * of blocks of LM_BLOCK slots, each block created with its array at full
 * size.  A registry reference costs a slot of an array that grows by
 * doubling (24 bytes on average per 16-byte slot, up to 32); a slot here
 * costs its 16 bytes.  Slot s (from 1) is block (s-1)/LM_BLOCK+1, index
 * (s-1)%LM_BLOCK+1.  Freed slots hold the next free slot's number, as
 * luaL_ref's free list does; the store never shrinks (neither does the
 * registry).  si is the store's absolute stack index. */

#define LM_BLOCK 256

static void push_store(lua_State *L, lm_queue *q) {
    lua_rawgeti(L, LUA_REGISTRYINDEX, q->store_ref);
}

/* Make sure n never-used slots exist, so that n anchor_add calls cannot
 * raise a memory error.  May raise one itself; then nothing changed. */
static void anchor_reserve(lua_State *L, lm_queue *q, int si, uint32_t n) {
    while ((uint64_t)q->anext + n - 1 > (uint64_t)q->nblocks * LM_BLOCK) {
        lua_createtable(L, LM_BLOCK, 0);
        lua_rawseti(L, si, (lua_Integer)q->nblocks + 1);
        q->nblocks++;
    }
}

/* Pin the value on top (popped); returns its slot.  Never raises after
 * anchor_reserve. */
static uint32_t anchor_add(lua_State *L, lm_queue *q, int si) {
    uint32_t s = q->afree ? q->afree : q->anext;
    lua_rawgeti(L, si, (lua_Integer)((s - 1) / LM_BLOCK + 1));
    if (s == q->afree) {
        lua_rawgeti(L, -1, (lua_Integer)((s - 1) % LM_BLOCK + 1));
        q->afree = (uint32_t)lua_tointeger(L, -1);
        lua_pop(L, 1);
    } else {
        q->anext++;
    }
    lua_insert(L, -2);
    lua_rawseti(L, -2, (lua_Integer)((s - 1) % LM_BLOCK + 1));
    lua_pop(L, 1);
    return s;
}

#ifndef LM_CB_IN_UV
static void anchor_push(lua_State *L, int si, uint32_t s) {
    lua_rawgeti(L, si, (lua_Integer)((s - 1) / LM_BLOCK + 1));
    lua_rawgeti(L, -1, (lua_Integer)((s - 1) % LM_BLOCK + 1));
    lua_remove(L, -2);
}
#endif

static void anchor_del(lua_State *L, lm_queue *q, int si, uint32_t s) {
    lua_rawgeti(L, si, (lua_Integer)((s - 1) / LM_BLOCK + 1));
    lua_pushinteger(L, (lua_Integer)q->afree);
    lua_rawseti(L, -2, (lua_Integer)((s - 1) % LM_BLOCK + 1));
    lua_pop(L, 1);
    q->afree = s;
}

/* ---- the library-thread side ---- */

/* FUZZ-05 chaos build (-Dchaos=true): a random yield or 0-200 us sleep
 * at the hand-off from a library thread to the queue.  Nothing otherwise. */
#ifdef MOCKIT_CHAOS
#include <sched.h>
static void lm_chaos(void) {
    static __thread uint64_t s;
    if (!s) s = 0x9E3779B97F4A7C15ull ^ (uint64_t)(uintptr_t)&s;
    s ^= s << 13; s ^= s >> 7; s ^= s << 17;
    if (s % 4 == 0) {
        sched_yield();
    } else if (s % 4 == 1) {
        struct timespec ts = {0, (long)(s % 200000)};
        nanosleep(&ts, NULL);
    }
}
#else
#define lm_chaos() ((void)0)
#endif

/* libmockit calls this on one of its threads.  It never calls Lua. */
static void *lm_expired(void *arg) {
    lm_timer *t = (lm_timer *)arg;
    lm_queue *q = (lm_queue *)t->d.stuff;
    uint64_t n = 1;
    if (t->interval) {
        int ov = Mockit_overrun(&t->d);    /* missed and merged: count them */
        if (ov > 0) n += (uint64_t)ov;
    }
    lm_chaos();
    pthread_mutex_lock(&q->mu);
    if (q->closed || (!t->interval && t->where != LM_IDLE)) {
        pthread_mutex_unlock(&q->mu);    /* the state is closing (or a */
        return NULL;                     /* one-shot fired twice: never) */
    }
    if (t->interval) {
        lm_ival *v = IV(t);
        if (v->count == 0) {
            if (v->batch == 0) q->entries++;
            else q->hcnt++;                 /* in the heap, now with a count */
        }
        v->count += n;
    } else {
        q->entries++;
    }
    if (t->where == LM_IDLE) idle_to_ready(q, t);
    if (q->pending == 0) {
        fd_raise(q);
        if (q->waiters) pthread_cond_broadcast(&q->cv);
    }
    q->pending += n;
    pthread_mutex_unlock(&q->mu);
    return NULL;
}

/* ---- timer life cycle (state thread) ---- */

/* Release the anchors (si: the store's absolute stack index); ui: the
 * userdata's absolute stack index, or 0 when it is not on the stack
 * (lua_close: then the user value stays). */
static void release_refs(lua_State *L, lm_queue *q, int si, lm_timer *t,
                         int ui) {
    if (t->anchor) anchor_del(L, q, si, t->anchor);
    t->anchor = 0;
#ifdef LM_CB_IN_UV
    if (ui) {
        lua_pushnil(L);
        lm_setcb(L, ui);
    }
#else
    (void)ui;
    if (t->cb_anchor) anchor_del(L, q, si, t->cb_anchor);
    t->cb_anchor = 0;
#endif
}

/* Stop the timer (waiting for a running C callback), drop its undelivered
 * events, release its anchors.  Idempotent.  ui as for release_refs.
 * Anchors are only held while d.stuff is set (arm_timer takes them and
 * sets it with nothing that can raise in between). */
static void timer_stop(lua_State *L, lm_timer *t, int ui) {
    lm_queue *q = (lm_queue *)t->d.stuff;
    if (t->state == LM_DEAD) return;
    if (t->state != LM_NEW) Mockit_destroy(&t->d);
    if (q) {
        size_t fix = LM_NOFIX;
        uint64_t w;
        pthread_mutex_lock(&q->mu);
        w = waiting(t);
        if (t->where == LM_HEAP) {
            if (t->interval && IV(t)->count > 0) q->hcnt--;
            fix = heap_leave(q, t);
        }
        if (t->where == LM_READY) ready_to_idle(q, t);
        idle_remove(q, t);
        if (w > 0) {
            q->entries--;
            q->pending -= w;
            if (q->pending == 0) fd_clear(q);
        }
        if (t->interval) {
            IV(t)->consumed += w;
            IV(t)->count = IV(t)->batch = 0;
        }
        pthread_mutex_unlock(&q->mu);
        if (fix != LM_NOFIX) heap_fix(q, fix);
        t->d.stuff = NULL;
        push_store(L, q);
        release_refs(L, q, lua_gettop(L), t, ui);
        lua_pop(L, 1);
    } else {
        release_refs(L, NULL, 0, t, ui);    /* no anchors: the user value */
    }
    t->state = LM_DEAD;
}

static lm_timer *check_timer(lua_State *L, int i) {
    return (lm_timer *)luaL_checkudata(L, i, LM_TIMER_MT);
}

/* obj:destroy([block]) -> nil.  block is accepted for the usage notes'
 * sake; destroy always returns with the timer stopped (libmockit's
 * Mockit_destroy waits for a running C callback, which is short). */
static int timer_destroy(lua_State *L) {
    lm_timer *t = check_timer(L, 1);
    opt_bool(L, 2, "destroy");
    timer_stop(L, t, 1);
    lua_pushnil(L);
    return 1;
}

static int timer_gc(lua_State *L) {
    timer_stop(L, check_timer(L, 1), 1);
    return 0;
}

static int timer_tostring(lua_State *L) {
    static const char *const names[] = {"new", "armed", "fired", "destroyed"};
    lm_timer *t = check_timer(L, 1);
    char buf[128];
    snprintf(buf, sizeof buf, LM_TIMER_MT " (%s, %lu ms, %s): %p",
             t->interval ? "interval" : "one-shot", (unsigned long)t->ms,
             names[t->state], (void *)t);
    lua_pushstring(L, buf);
    return 1;
}

/* t.oneoff(cb, ms) / t.oneoff(ms, cb) / t.getit(...): a timer object, or
 * the fail triple when libmockit refuses. */
static int arm_timer(lua_State *L, int interval) {
    lm_queue *q = upqueue(L);
    const char *fname = interval ? "getit" : "oneoff";
    size_t size = interval ? sizeof(lm_ival) : sizeof(lm_timer);
    int cbi = 1, msi = 2, rc, si;
    uint32_t ms;
    uint64_t now;
    lm_timer *t;
    if (lua_type(L, 1) == LUA_TNUMBER) { cbi = 2; msi = 1; }
    if (!is_callable(L, cbi)) type_error(L, cbi, fname, "function");
    ms = check_ms(L, msi, fname);

    if (q->live >= UINT32_MAX || q->anext >= UINT32_MAX - 2)
        return push_fail(L, ENOMEM);
    if (q->live + 1 > q->cap) {     /* library threads use q->slot: lock */
        size_t ncap = q->cap ? 2 * q->cap : 16;
        lm_timer **ns;
        pthread_mutex_lock(&q->mu);
        ns = (lm_timer **)realloc(q->slot, ncap * sizeof *ns);
        if (ns) {
            q->slot = ns;
            q->cap = ncap;
        }
        pthread_mutex_unlock(&q->mu);
        if (!ns) return push_fail(L, ENOMEM);
    }
    push_store(L, q);
    si = lua_gettop(L);
    anchor_reserve(L, q, si, 2);
    t = (lm_timer *)lm_newtimer(L, size);
    memset(t, 0, size);
    t->state = LM_NEW;
    t->where = LM_IDLE;
    t->interval = (unsigned char)interval;
    t->ms = ms;
    t->d.cb = lm_expired;
    luaL_getmetatable(L, LM_TIMER_MT);
    lua_setmetatable(L, -2);
    /* Nothing from here to d.stuff = q can raise an error. */
    lua_pushvalue(L, cbi);
#ifdef LM_CB_IN_UV
    lm_setcb(L, -2);
#else
    t->cb_anchor = anchor_add(L, q, si);
#endif
    lua_pushvalue(L, -1);
    t->anchor = anchor_add(L, q, si);
    lua_remove(L, si);          /* the userdata is on top again */

    now = mono_ns();
    if (now <= q->last_t0) now = q->last_t0 + 1;   /* ties: arming order */
    q->last_t0 = now;
    if (interval) {
        IV(t)->t0 = now;
        t->due = due_of_ival(t, 1);
    } else {
        t->due = now + (uint64_t)ms * 1000000u;
    }
    /* Idle.  No lock: a library thread never touches slot[live] (it moves
     * an armed idle timer to slot[rlen], rlen <= its index < live), and
     * this timer has no callback before it is armed. */
    slot_set(q, q->live++, t);
    t->d.stuff = q;
    t->state = LM_ARMED;
    rc = interval ? Mockit_getit(ms, &t->d) : Mockit_oneoff(ms, &t->d);
    if (rc != 0) {
        t->state = LM_NEW;      /* libmockit does not know it */
        timer_stop(L, t, lua_gettop(L));
        return push_fail(L, rc);
    }
    return 1;
}

static int l_oneoff(lua_State *L) { return arm_timer(L, 0); }
static int l_getit(lua_State *L) { return arm_timer(L, 1); }

/* ---- draining ---- */

/* Make the ready part, and the counts of timers already in the heap, the
 * batch. */
static void merge_ready(lm_queue *q) {
    size_t i, old;
    pthread_mutex_lock(&q->mu);
    if (q->hcnt > 0) {              /* left by an error or a nested call */
        for (i = 0; i < q->hlen; i++) {
            lm_timer *t = q->slot[i];
            if (t->interval && IV(t)->count > 0) {
                IV(t)->batch += IV(t)->count;
                IV(t)->count = 0;
            }
        }
        q->hcnt = 0;
    }
    for (i = q->hlen; i < q->rlen; i++) {
        lm_timer *t = q->slot[i];
        t->where = LM_HEAP;
        if (t->interval) {
            IV(t)->batch = IV(t)->count;
            IV(t)->count = 0;
        }
    }
    old = q->hlen;
    q->hlen = q->rlen;
    pthread_mutex_unlock(&q->mu);
    for (i = old; i < q->hlen; i++) heap_up(q, i);
}

static int l_process_events(lua_State *L) {
    lm_queue *q = upqueue(L);
    lua_Integer calls = 0;
    uint32_t cur = 0;           /* the block at 2 */
    lua_settop(L, 0);
    push_store(L, q);           /* 1 */
    lua_pushnil(L);             /* 2: the block of the last timer called */
    merge_ready(q);
    while (q->hlen > 0) {
        lm_timer *t = q->slot[0];
        uint32_t s = t->anchor, b = (s - 1) / LM_BLOCK + 1;
        lua_Integer o = (lua_Integer)((s - 1) % LM_BLOCK + 1);
        pthread_mutex_lock(&q->mu);
        q->pending--;
        if (t->interval) {
            lm_ival *v = IV(t);
            v->batch--;
            if (v->batch == 0) {
                heap_leave(q, t);
                if (v->count > 0) q->hcnt--;
                else {
                    q->entries--;
                    ready_to_idle(q, t);
                }
            }
        } else {
            q->entries--;
            heap_leave(q, t);
            ready_to_idle(q, t);
        }
        if (q->pending == 0) fd_clear(q);
        pthread_mutex_unlock(&q->mu);
        if (t->interval) {
            lm_ival *v = IV(t);
            v->consumed++;
            t->due = due_of_ival(t, v->consumed + 1);
        }
        if (q->hlen > 0) heap_down(q, 0);
        /* The object stays on the stack during the call: a callback that
         * destroys it, or a GC cycle after a one-shot let go of its
         * reference, cannot free it under us. */
        if (b != cur) {         /* timers armed together share blocks */
            lua_rawgeti(L, 1, (lua_Integer)b);
            lua_replace(L, 2);
            cur = b;
        }
        lua_rawgeti(L, 2, o);                   /* 3: the timer */
#ifdef LM_CB_IN_UV
        lm_pushcb(L, 3);                        /* 4: its callback */
#else
        anchor_push(L, 1, t->cb_anchor);
#endif
        if (!t->interval) {     /* release_refs, with the block at hand */
            t->state = LM_FIRED;
            lua_pushinteger(L, (lua_Integer)q->afree);
            lua_rawseti(L, 2, o);
            q->afree = s;
            t->anchor = 0;
            release_refs(L, q, 1, t, 3);
        }
        calls++;
        lua_call(L, 0, 0);
        lua_settop(L, 2);
    }
    lua_settop(L, 0);
    lua_pushinteger(L, calls);
    return 1;
}

static int l_pending(lua_State *L) {
    lm_queue *q = upqueue(L);
    uint64_t n;
    pthread_mutex_lock(&q->mu);
    n = q->pending;
    pthread_mutex_unlock(&q->mu);
    lua_pushinteger(L, (lua_Integer)n);
    return 1;
}

static int l_inqueue(lua_State *L) {
    lm_queue *q = upqueue(L);
    uint64_t n;
    pthread_mutex_lock(&q->mu);
    n = q->entries;
    pthread_mutex_unlock(&q->mu);
    lua_pushinteger(L, (lua_Integer)n);
    return 1;
}

/* t.wait([timeout_ms]): true as soon as events wait, false on time-out.
 * No timeout: block until an event.  Signals do not end the wait. */
static int l_wait(lua_State *L) {
    lm_queue *q = upqueue(L);
    int forever = lua_isnoneornil(L, 1), ready;
    uint32_t ms = forever ? 0 : check_ms(L, 1, "wait");
    struct timespec dl;
    if (!forever) {
        uint64_t d = mono_ns() + (uint64_t)ms * 1000000u;
        dl.tv_sec = (time_t)(d / 1000000000u);
        dl.tv_nsec = (long)(d % 1000000000u);
    }
    pthread_mutex_lock(&q->mu);
    if (q->pending == 0 && (forever || ms > 0)) {
        q->waiters++;
        while (q->pending == 0) {
            if (forever) {
                pthread_cond_wait(&q->cv, &q->mu);
            } else if (pthread_cond_timedwait(&q->cv, &q->mu, &dl) == ETIMEDOUT) {
                break;
            }
        }
        q->waiters--;
    }
    ready = q->pending > 0;
    pthread_mutex_unlock(&q->mu);
    lua_pushboolean(L, ready);
    return 1;
}

/* t.fd(): an eventfd (FD_CLOEXEC, non-blocking) readable exactly while
 * events wait.  It belongs to the module: do not read or close it. */
static int l_fd(lua_State *L) {
    lm_queue *q = upqueue(L);
    int fd, err = 0;
    pthread_mutex_lock(&q->mu);
    if (q->efd < 0) {
        q->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        if (q->efd < 0) err = errno;
        else if (q->pending > 0) fd_raise(q);
    }
    fd = q->efd;
    pthread_mutex_unlock(&q->mu);
    if (fd < 0) return push_fail(L, err);
    lua_pushinteger(L, fd);
    return 1;
}

/* ---- time ---- */

/* t.sleep(ms [, resume]): true; interrupted by a signal handler and not
 * resuming: false, left_ms.  resume sleeps on to the original deadline. */
static int l_sleep(lua_State *L) {
    uint32_t ms = check_ms(L, 1, "sleep");
    int resume = opt_bool(L, 2, "sleep");
    uint64_t deadline = mono_ns() + (uint64_t)ms * 1000000u;
    for (;;) {
        ssize_t left = 0;
        int err = 0, rc = Mockit_bsleep(ms, &left, &err);
        uint64_t now;
        if (rc == 0) break;
        if (rc != EINTR) return push_fail(L, rc);
        if (!resume) {
            lua_pushboolean(L, 0);
            lua_pushinteger(L, (lua_Integer)left);
            return 2;
        }
        now = mono_ns();
        if (now >= deadline) break;
        ms = (uint32_t)((deadline - now + 999999u) / 1000000u);
    }
    lua_pushboolean(L, 1);
    return 1;
}

static int l_time(lua_State *L) {
    time_t s;
    long ms;
    int rc = Mockit_gettime(&s, &ms);
    if (rc) return push_fail(L, rc);
    lua_pushinteger(L, (lua_Integer)s);
    lua_pushinteger(L, (lua_Integer)ms);
    return 2;
}

static int l_mstimestamp(lua_State *L) {
    uint64_t ms;
    int rc = Mockit_mstimestamp(&ms);
    if (rc) return push_fail(L, rc);
    lua_pushinteger(L, (lua_Integer)ms);
    return 1;
}

static int l_init(lua_State *L) {
    upqueue(L);
    lua_pushboolean(L, 1);
    return 1;
}

/* ---- the per-state queue ---- */

/* __gc of the queue (lua_close, or the registry entry dropped): destroy
 * every timer of the state; Mockit_destroy waits for a running callback,
 * so after the loop no library thread can reach this queue.  Only then
 * is anything freed.  From the moment q->closed is set, library threads
 * leave the queue (and q->slot) alone, so the loop sees a fixed array. */
static int queue_gc(lua_State *L) {
    lm_queue *q = (lm_queue *)lua_touserdata(L, 1);
    size_t i;
    if (q->closed) return 0;
    pthread_mutex_lock(&q->mu);
    q->closed = 1;
    pthread_mutex_unlock(&q->mu);
    push_store(L, q);
    for (i = 0; i < q->live; i++) {
        lm_timer *t = q->slot[i];
        if (t->state == LM_ARMED || t->state == LM_FIRED) Mockit_destroy(&t->d);
        t->where = LM_IDLE;
        t->d.stuff = NULL;
        if (t->interval) IV(t)->count = IV(t)->batch = 0;
        release_refs(L, q, lua_gettop(L), t, 0);
        t->state = LM_DEAD;
    }
    lua_pop(L, 1);
    luaL_unref(L, LUA_REGISTRYINDEX, q->store_ref);
    q->store_ref = LUA_NOREF;
    free(q->slot);
    q->slot = NULL;
    q->hlen = q->rlen = q->live = q->cap = 0;
    pthread_mutex_lock(&g_mu);
    if (q->gprev) q->gprev->gnext = q->gnext;
    else g_queues = q->gnext;
    if (q->gnext) q->gnext->gprev = q->gprev;
    pthread_mutex_unlock(&g_mu);
    if (q->efd >= 0) close(q->efd);
    q->efd = -1;
    pthread_cond_destroy(&q->cv);
    pthread_mutex_destroy(&q->mu);
    return 0;
}

/* Push this state's queue userdata, creating it on first use. */
static void push_queue(lua_State *L) {
    lm_queue *q;
    lua_pushlightuserdata(L, &lm_queue_key);
    lua_rawget(L, LUA_REGISTRYINDEX);
    if (!lua_isnil(L, -1)) return;
    lua_pop(L, 1);
    q = (lm_queue *)lm_newuserdata(L, sizeof *q);
    memset(q, 0, sizeof *q);
    q->efd = -1;
    q->anext = 1;
    lua_newtable(L);
    q->store_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    init_queue_sync(q);
    if (luaL_newmetatable(L, LM_QUEUE_MT)) {
        lua_pushcfunction(L, queue_gc);
        lua_setfield(L, -2, "__gc");
        lua_pushliteral(L, LM_QUEUE_MT);
        lua_setfield(L, -2, "__metatable");
    }
    lua_setmetatable(L, -2);
    pthread_mutex_lock(&g_mu);
    q->gnext = g_queues;
    if (g_queues) g_queues->gprev = q;
    g_queues = q;
    pthread_mutex_unlock(&g_mu);
    lua_pushlightuserdata(L, &lm_queue_key);
    lua_pushvalue(L, -2);
    lua_rawset(L, LUA_REGISTRYINDEX);
}

static const luaL_Reg timer_methods[] = {
    {"destroy", timer_destroy},
    {NULL, NULL}
};

static const luaL_Reg module_functions[] = {
    {"init", l_init},
    {"sleep", l_sleep},
    {"time", l_time},
    {"mstimestamp", l_mstimestamp},
    {"oneoff", l_oneoff},
    {"getit", l_getit},
    {"wait", l_wait},
    {"process_events", l_process_events},
    {"pending", l_pending},
    {"inqueue", l_inqueue},
    {"fd", l_fd},
    {NULL, NULL}
};

LM_EXPORT int luaopen_luamockit(lua_State *L);

LM_EXPORT int luaopen_luamockit(lua_State *L) {
    pthread_once(&g_once, register_atfork);
    if (luaL_newmetatable(L, LM_TIMER_MT)) {
        lua_newtable(L);
        lm_setfuncs(L, timer_methods, 0);
        lua_setfield(L, -2, "__index");
        lua_pushcfunction(L, timer_gc);
        lua_setfield(L, -2, "__gc");
#if LUA_VERSION_NUM >= 504
        lua_pushcfunction(L, timer_destroy);
        lua_setfield(L, -2, "__close");
#endif
        lua_pushcfunction(L, timer_tostring);
        lua_setfield(L, -2, "__tostring");
        lua_pushliteral(L, LM_TIMER_MT);   /* scripts cannot reach __gc */
        lua_setfield(L, -2, "__metatable");
    }
    lua_pop(L, 1);
    lua_newtable(L);
    push_queue(L);
    lm_setfuncs(L, module_functions, 1);
    lua_pushliteral(L, "luamockit " MOCKIT_VERSION_STRING);
    lua_setfield(L, -2, "_VERSION");
    return 1;
}
