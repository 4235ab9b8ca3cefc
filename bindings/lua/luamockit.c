/*
 * luamockit.c - the Lua module over libmockit's public C ABI.
 *
 * Lua is never called from a library thread.  A timer's C callback (it
 * runs on a libmockit thread) only locks its state's queue, adds the
 * expirations to the timer's count, links the timer into the ready list if
 * it was not there, and wakes t.wait() and the t.fd() descriptor when the
 * queue turns non-empty.  The script drains the queue with
 * t.process_events(), which calls each Lua callback once per expiration.
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
 *             handed to libmockit.  An armed timer (and a fired one-shot
 *             whose event is not yet delivered) is pinned by a registry
 *             reference to itself; its callback by another.  Both are
 *             released by destroy, by delivering a one-shot's event, and
 *             by __gc.
 *
 * Coalescing: undrained expirations of one timer are a count, so memory is
 * O(timers) however long the script sleeps.  process_events first moves
 * the ready list into a batch (a min-heap on the due time of each timer's
 * oldest undelivered expiration, ties in arming order) and then makes one
 * call per expiration in due order.  Expirations that arrive while it runs
 * wait for the next call, so a callback that re-arms oneoff(0) cannot keep
 * one process_events call busy forever.  A callback error propagates
 * unchanged (lua_call, not lua_pcall); the heap is consistent before every
 * call, so the events not yet handled stay queued.
 *
 * Locking: q->mu guards the ready list, every timer's count/batch/in_ready,
 * and the queue's pending/entries/waiters/efd.  The heap array, the list of
 * all timers and the registry references are touched only by the thread
 * running the state.  Mockit_destroy is never called with q->mu held (the
 * callback it may wait for takes q->mu).
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

struct lm_timer {
    struct data d;          /* first member: &t->d == (struct data *)t */
    lm_queue *q;            /* NULL once the queue is gone */
    lm_timer *aprev, *anext;/* all timers libmockit may know (state thread) */
    lm_timer *rprev, *rnext;/* ready list (q->mu) */
    uint64_t arm_ns;        /* CLOCK_MONOTONIC just before arming */
    uint64_t due_ns;        /* due time of the oldest undelivered expiration */
    uint64_t seq;           /* arming order, the tie-break */
    uint64_t count;         /* expirations not yet in a batch (q->mu) */
    uint64_t batch;         /* expirations in the batch heap (q->mu) */
    uint64_t consumed;      /* expirations delivered or dropped */
    uint32_t ms;
    int hidx;               /* index in q->heap, -1 when not there */
    int self_ref, cb_ref;   /* registry references, LUA_NOREF when none */
    unsigned char interval, state, in_ready;
};

struct lm_queue {
    pthread_mutex_t mu;
    pthread_cond_t cv;      /* signalled when pending turns non-zero */
    lm_timer *ready;        /* timers with count > 0 (q->mu) */
    uint64_t pending;       /* calls waiting: sum of count + batch (q->mu) */
    uint64_t entries;       /* timers with count + batch > 0 (q->mu) */
    int waiters;            /* threads blocked in t.wait() (q->mu) */
    int efd;                /* eventfd, -1 until t.fd() (q->mu) */
    int closed;             /* set by __gc: the state is closing */
    lm_timer *all;          /* every timer libmockit may know */
    lm_timer **heap;        /* the batch being delivered; hcap >= live */
    size_t hlen, hcap, live;
    uint64_t next_seq;
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

/* ---- the batch heap: min on (due_ns, seq); touched by the state only ---- */

static int before(const lm_timer *a, const lm_timer *b) {
    return a->due_ns < b->due_ns || (a->due_ns == b->due_ns && a->seq < b->seq);
}

static void heap_set(lm_queue *q, size_t i, lm_timer *t) {
    q->heap[i] = t;
    t->hidx = (int)i;
}

static void heap_up(lm_queue *q, size_t i) {
    lm_timer *t = q->heap[i];
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (!before(t, q->heap[p])) break;
        heap_set(q, i, q->heap[p]);
        i = p;
    }
    heap_set(q, i, t);
}

static void heap_down(lm_queue *q, size_t i) {
    lm_timer *t = q->heap[i];
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= q->hlen) break;
        if (c + 1 < q->hlen && before(q->heap[c + 1], q->heap[c])) c++;
        if (!before(q->heap[c], t)) break;
        heap_set(q, i, q->heap[c]);
        i = c;
    }
    heap_set(q, i, t);
}

static void heap_push(lm_queue *q, lm_timer *t) {
    q->heap[q->hlen] = t;   /* hcap >= live >= hlen + 1: never grows here */
    t->hidx = (int)q->hlen++;
    heap_up(q, q->hlen - 1);
}

static void heap_remove(lm_queue *q, lm_timer *t) {
    size_t i = (size_t)t->hidx;
    lm_timer *last = q->heap[--q->hlen];
    t->hidx = -1;
    if (i == q->hlen) return;
    heap_set(q, i, last);
    heap_up(q, i);
    heap_down(q, (size_t)last->hidx);
}

static uint64_t due_of(const lm_timer *t, uint64_t k) {
    uint64_t step = (uint64_t)t->ms * 1000000u, off;
    if (!t->interval) return t->arm_ns + step;
    if (step != 0 && k > (UINT64_MAX - t->arm_ns) / step) return UINT64_MAX;
    off = k * step;
    return t->arm_ns + off;
}

/* ---- the library-thread side ---- */

static void ready_unlink(lm_queue *q, lm_timer *t) {
    if (t->rprev) t->rprev->rnext = t->rnext;
    else q->ready = t->rnext;
    if (t->rnext) t->rnext->rprev = t->rprev;
    t->rprev = t->rnext = NULL;
    t->in_ready = 0;
}

/* libmockit calls this on one of its threads.  It never calls Lua. */
static void *lm_expired(void *arg) {
    lm_timer *t = (lm_timer *)arg;
    lm_queue *q = t->q;
    uint64_t n = 1;
    if (t->interval) {
        int ov = Mockit_overrun(&t->d);    /* missed and merged: count them */
        if (ov > 0) n += (uint64_t)ov;
    }
    pthread_mutex_lock(&q->mu);
    if (t->count + t->batch == 0) q->entries++;
    if (!t->in_ready) {
        t->rprev = NULL;
        t->rnext = q->ready;
        if (q->ready) q->ready->rprev = t;
        q->ready = t;
        t->in_ready = 1;
    }
    t->count += n;
    if (q->pending == 0) {
        fd_raise(q);
        if (q->waiters) pthread_cond_broadcast(&q->cv);
    }
    q->pending += n;
    pthread_mutex_unlock(&q->mu);
    return NULL;
}

/* ---- timer life cycle (state thread) ---- */

static void release_refs(lua_State *L, lm_timer *t) {
    if (t->cb_ref != LUA_NOREF) luaL_unref(L, LUA_REGISTRYINDEX, t->cb_ref);
    if (t->self_ref != LUA_NOREF) luaL_unref(L, LUA_REGISTRYINDEX, t->self_ref);
    t->cb_ref = t->self_ref = LUA_NOREF;
}

static void all_unlink(lm_queue *q, lm_timer *t) {
    if (t->aprev) t->aprev->anext = t->anext;
    else q->all = t->anext;
    if (t->anext) t->anext->aprev = t->aprev;
    t->aprev = t->anext = NULL;
    q->live--;
}

/* Stop the timer (waiting for a running C callback), drop its undelivered
 * events, release its references.  Idempotent. */
static void timer_stop(lua_State *L, lm_timer *t) {
    lm_queue *q = t->q;
    if (t->state == LM_DEAD) return;
    if (t->state != LM_NEW) Mockit_destroy(&t->d);
    if (q) {
        pthread_mutex_lock(&q->mu);
        if (t->in_ready) ready_unlink(q, t);
        if (t->count + t->batch > 0) {
            q->entries--;
            q->pending -= t->count + t->batch;
            t->consumed += t->count + t->batch;
            t->count = t->batch = 0;
            if (q->pending == 0) fd_clear(q);
        }
        pthread_mutex_unlock(&q->mu);
        if (t->hidx >= 0) heap_remove(q, t);
        all_unlink(q, t);
        t->q = NULL;
    }
    release_refs(L, t);
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
    timer_stop(L, t);
    lua_pushnil(L);
    return 1;
}

static int timer_gc(lua_State *L) {
    timer_stop(L, check_timer(L, 1));
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
    int cbi = 1, msi = 2, rc;
    uint32_t ms;
    lm_timer *t;
    if (lua_type(L, 1) == LUA_TNUMBER) { cbi = 2; msi = 1; }
    if (!is_callable(L, cbi)) type_error(L, cbi, fname, "function");
    ms = check_ms(L, msi, fname);

    if (q->live + 1 > q->hcap) {    /* the batch heap never grows later */
        size_t ncap = q->hcap ? 2 * q->hcap : 16;
        lm_timer **nh = (lm_timer **)realloc(q->heap, ncap * sizeof *nh);
        if (!nh) return push_fail(L, ENOMEM);
        q->heap = nh;
        q->hcap = ncap;
    }
    t = (lm_timer *)lm_newuserdata(L, sizeof *t);
    memset(t, 0, sizeof *t);
    t->hidx = -1;
    t->self_ref = t->cb_ref = LUA_NOREF;
    t->state = LM_NEW;
    t->interval = (unsigned char)interval;
    t->ms = ms;
    t->d.cb = lm_expired;
    t->d.stuff = t;
    luaL_getmetatable(L, LM_TIMER_MT);
    lua_setmetatable(L, -2);
    lua_pushvalue(L, cbi);
    t->cb_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    lua_pushvalue(L, -1);
    t->self_ref = luaL_ref(L, LUA_REGISTRYINDEX);

    t->q = q;
    t->seq = q->next_seq++;
    t->anext = q->all;
    if (q->all) q->all->aprev = t;
    q->all = t;
    q->live++;
    t->state = LM_ARMED;
    t->arm_ns = mono_ns();
    t->due_ns = due_of(t, 1);
    rc = interval ? Mockit_getit(ms, &t->d) : Mockit_oneoff(ms, &t->d);
    if (rc != 0) {
        t->state = LM_NEW;      /* libmockit does not know it */
        timer_stop(L, t);
        return push_fail(L, rc);
    }
    return 1;
}

static int l_oneoff(lua_State *L) { return arm_timer(L, 0); }
static int l_getit(lua_State *L) { return arm_timer(L, 1); }

/* ---- draining ---- */

/* Move the ready list into the batch heap (q->mu held). */
static void merge_ready(lm_queue *q) {
    lm_timer *t;
    while ((t = q->ready) != NULL) {
        ready_unlink(q, t);
        t->batch += t->count;
        t->count = 0;
        if (t->hidx < 0) heap_push(q, t);
    }
}

static int l_process_events(lua_State *L) {
    lm_queue *q = upqueue(L);
    lua_Integer calls = 0;
    lua_settop(L, 0);
    pthread_mutex_lock(&q->mu);
    merge_ready(q);
    pthread_mutex_unlock(&q->mu);
    while (q->hlen > 0) {
        lm_timer *t = q->heap[0];
        pthread_mutex_lock(&q->mu);
        t->batch--;
        q->pending--;
        if (t->count + t->batch == 0) q->entries--;
        if (q->pending == 0) fd_clear(q);
        pthread_mutex_unlock(&q->mu);
        t->consumed++;
        t->due_ns = due_of(t, t->consumed + 1);
        if (t->batch == 0) heap_remove(q, t);
        else heap_down(q, 0);
        /* The object stays on the stack during the call: a callback that
         * destroys it, or a GC cycle after a one-shot let go of its
         * reference, cannot free it under us. */
        lua_rawgeti(L, LUA_REGISTRYINDEX, t->self_ref);
        lua_rawgeti(L, LUA_REGISTRYINDEX, t->cb_ref);
        if (!t->interval) {
            t->state = LM_FIRED;
            release_refs(L, t);
        }
        calls++;
        lua_call(L, 0, 0);
        lua_settop(L, 0);
    }
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
 * is anything freed. */
static int queue_gc(lua_State *L) {
    lm_queue *q = (lm_queue *)lua_touserdata(L, 1);
    lm_timer *t, *next;
    if (q->closed) return 0;
    q->closed = 1;
    for (t = q->all; t; t = next) {
        next = t->anext;
        if (t->state == LM_ARMED || t->state == LM_FIRED) Mockit_destroy(&t->d);
        t->aprev = t->anext = t->rprev = t->rnext = NULL;
        t->in_ready = 0;
        t->hidx = -1;
        t->q = NULL;
        t->count = t->batch = 0;
        release_refs(L, t);
        t->state = LM_DEAD;
    }
    q->all = NULL;
    free(q->heap);
    q->heap = NULL;
    q->hlen = q->hcap = q->live = 0;
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
