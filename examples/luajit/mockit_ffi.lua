-- mockit from LuaJIT, through the FFI (dlopen of libmockit.so.1).
--
-- Run:  LD_LIBRARY_PATH=/path/to/build/src luajit mockit_ffi.lua
--       (not needed when libmockit.so.1 is installed in a system library path)
--
-- The honest part first.  mockit calls timer callbacks on its own threads
-- ("mockit-clock", "mockit-cb").  A LuaJIT FFI callback made from a Lua
-- function (ffi.cast("void *(*)(void *)", some_lua_function)) runs Lua code
-- on whatever thread calls it, in the same lua_State the main thread is
-- running.  LuaJIT states are not thread-safe: that corrupts the state and
-- crashes, sooner or later.  So this script never gives mockit a Lua
-- function as a callback.  What is safe:
--
--   1. Every call that does not call back: Mockit_bsleep, Mockit_gettime,
--      Mockit_mstimestamp, Mockit_version, Mockit_data_init, Mockit_destroy.
--   2. Timers whose callback is C code.  Normally that is a function of
--      your own in a small shared library (ffi.load it, take its address),
--      which may, say, write to an eventfd or bump an atomic counter that
--      Lua then polls.  To stay self-contained, this script uses a libc
--      function, sched_yield(), which does nothing observable.  Calling it
--      through a void *(*)(void *) pointer passes an argument it ignores
--      and returns an int where a pointer is expected: harmless on the
--      Linux ABIs (x86-64, i386, arm64), but not portable C.
--      What can be observed is documented behaviour: a struct of your own
--      whose one-shot has fired and returned is forgotten by the library,
--      so Mockit_destroy then gives EINVAL; an armed one gives 0.
--   3. Periodic work in Lua itself: the polling pattern below, a loop on
--      the Lua thread that sleeps with Mockit_bsleep to the next point of a
--      fixed grid (start + k*ms on CLOCK_MONOTONIC), so it does not drift.
--   4. Real Lua callbacks: use the luamockit module (require "luamockit"),
--      which works under LuaJIT; its C side queues the expirations and the
--      script runs the callbacks with t.wait() and t.process_events().
--
-- Exit status 0 when everything behaved as the man pages say.

local ffi = require("ffi")

ffi.cdef[[
/* <mockit.h>; LuaJIT predefines uint32_t, uint64_t and ssize_t */
typedef long time_t;            /* glibc on Linux */
struct data {
    void *(*cb)(void *arg);
    void *stuff;
    uint64_t timer_id;
};
int  Mockit_bsleep(uint32_t ms, ssize_t *left, int *error);
struct data *Mockit_data_init(void);
int  Mockit_oneoff(uint32_t ms, struct data *data);
int  Mockit_getit(uint32_t ms, struct data *data);
int  Mockit_destroy(struct data *data);
int  Mockit_overrun(const struct data *data);
int  Mockit_gettime(time_t *secs, long *ms);
int  Mockit_mstimestamp(uint64_t *ms);
const char *Mockit_version(void);

/* from libc */
int sched_yield(void);
struct timespec { time_t tv_sec; long tv_nsec; };
int clock_gettime(int clk, struct timespec *ts);
]]

local m = ffi.load("libmockit.so.1")
local C = ffi.C
local EINVAL = 22               -- Linux
local CLOCK_MONOTONIC = 1       -- Linux

local failed = false
local function check(cond, what)
  print((cond and "ok   " or "FAIL ") .. what)
  if not cond then failed = true end
end

local function mono_ms()
  local ts = ffi.new("struct timespec")
  C.clock_gettime(CLOCK_MONOTONIC, ts)
  return tonumber(ts.tv_sec) * 1000 + tonumber(ts.tv_nsec) / 1e6
end

print("libmockit " .. ffi.string(m.Mockit_version()))
check(ffi.sizeof("struct data") == (ffi.abi("64bit") and 24 or 16),
      "struct data is " .. ffi.sizeof("struct data") .. " bytes")

-- 1. Calls that do not call back.
local left, err = ffi.new("ssize_t[1]", -1), ffi.new("int[1]", -1)
local t0 = mono_ms()
local rc = m.Mockit_bsleep(30, left, err)
local slept = mono_ms() - t0
check(rc == 0 and left[0] == 0 and err[0] == 0 and slept >= 30,
      ("Mockit_bsleep(30): 0, left 0, error 0, slept %.1f ms"):format(slept))
local stamp = ffi.new("uint64_t[1]")
local secs, ms = ffi.new("time_t[1]"), ffi.new("long[1]")
check(m.Mockit_mstimestamp(stamp) == 0 and m.Mockit_gettime(secs, ms) == 0
      and ms[0] >= 0 and ms[0] < 1000,
      ("wall clock: %d.%03d s, %s ms"):format(tonumber(secs[0]), tonumber(ms[0]),
                                          tostring(stamp[0]):gsub("ULL$", "")))
check(m.Mockit_gettime(nil, ms) == EINVAL, "Mockit_gettime(NULL, ...): EINVAL")

-- 2. Timers with a C callback (see the header of this file).
local noop = ffi.cast("void *(*)(void *)", C.sched_yield)

-- A one-shot on a struct that Lua owns.  Keep a reference to it (here the
-- local `mine`) for as long as the timer is armed: if the GC collected it,
-- the library would call through freed memory.
local mine = ffi.new("struct data")
mine.cb = noop
check(m.Mockit_oneoff(20, mine) == 0, "Mockit_oneoff(20 ms) with a C callback")
check(mine.timer_id ~= 0, "timer_id written: " .. tostring(mine.timer_id):gsub("ULL$", ""))
m.Mockit_bsleep(200, nil, nil)          -- it fires at 20 ms and returns
check(m.Mockit_destroy(mine) == EINVAL,
      "Mockit_destroy after it fired: EINVAL (fired, returned, forgotten)")

-- An interval timer from Mockit_data_init: destroy stops and frees it.
local heap = m.Mockit_data_init()
check(heap ~= nil, "Mockit_data_init")
heap.cb = noop
check(m.Mockit_getit(10, heap) == 0, "Mockit_getit(10 ms) with a C callback")
m.Mockit_bsleep(50, nil, nil)
check(m.Mockit_destroy(heap) == 0, "Mockit_destroy of the interval timer: 0 (stopped, freed)")
heap = nil                              -- freed by the library: never touch it again

check(m.Mockit_getit(0, mine) == EINVAL, "Mockit_getit(0 ms): EINVAL")
check(m.Mockit_overrun(mine) == -1 and ffi.errno() == EINVAL,
      "Mockit_overrun outside a callback: -1, errno EINVAL")

-- 3. The polling pattern: periodic work on the Lua thread, drift-free.
local period, runs = 20, 5
local start = mono_ms()
local lateness = {}
for k = 1, runs do
  local due = start + k * period
  local now = mono_ms()
  if due > now then
    m.Mockit_bsleep(math.ceil(due - now), nil, nil)   -- never early: rounded up
  end
  lateness[k] = mono_ms() - due        -- here: the periodic Lua work
end
local worst = math.max(unpack(lateness))
check(math.min(unpack(lateness)) >= 0, ("polling loop: %d runs on a %d ms grid, worst lateness %.2f ms"):format(runs, period, worst))

if failed then
  print("some checks failed")
  os.exit(1)
end
print("all good")
