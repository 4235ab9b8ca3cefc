-- test_fd_exhaust.lua: FLT-09 (d), luamockit with no file descriptor left,
-- under every interpreter.  Run on its own (not from run.lua), with a low
-- RLIMIT_NOFILE so that filling the fd table is quick:
--   LUA_CPATH=... prlimit --nofile=64 lua5.x test_fd_exhaust.lua
-- It opens /dev/null until io.open fails with "Too many open files", then:
-- t.fd() gives the documented failure (luamockit(3): luv's triple nil,
-- "EMFILE: ...", "EMFILE"), raises nothing and does not crash; timers,
-- wait, process_events, sleep and destroy work (they need no fd); once fds
-- are freed t.fd() works and is readable for the event that came meanwhile.
-- The fork case is in host_fdlimit.c.  Exit 77 (skipped) when the soft
-- limit is too high to fill.
local dir = (arg and arg[0] or ""):match("^(.*)/") or "."
package.path = dir .. "/?.lua;" .. package.path

local H = require("harness")   -- loads luamockit while fds are there
local t, test = H.t, H.test

local function soft_limit()
  local f = io.open("/proc/self/limits")
  if not f then return nil end
  local s = f:read("*a")
  f:close()
  local v = s:match("Max open files%s+(%S+)")
  return tonumber(v)
end

local held = {}
local function fill()
  while true do
    local f, err = io.open("/dev/null", "r")
    if not f then return err end
    held[#held + 1] = f
  end
end
local function free(n)
  for _ = 1, n do
    local f = table.remove(held)
    if f then f:close() end
  end
end

local function readable(fd)
  local f = assert(io.open("/proc/self/fdinfo/" .. fd))
  local s = f:read("*a")
  f:close()
  return tonumber(assert(s:match("eventfd%-count:%s*(%x+)")), 16) > 0
end

local function nop() end

test("FLT-09d t.fd() with no fd left gives nil, \"EMFILE: ...\", \"EMFILE\" and raises nothing", function()
  local err = fill()
  H.check(err and err:find("Too many open files", 1, true), "io.open stopped with: " .. tostring(err))
  H.check(#held > 0, "filled")
  local ok, a, b, c = pcall(t.fd)
  H.check(ok, "t.fd() raised: " .. tostring(a))
  H.eq(a, nil, "first value")
  H.eq(c, "EMFILE", "error name")
  H.check(type(b) == "string" and b:find("^EMFILE: "), "message: " .. tostring(b))
  ok, a, b, c = pcall(t.fd)
  H.check(ok and a == nil and c == "EMFILE", "a second call the same")
end)

test("FLT-09d with no fd left timers, wait, process_events, sleep and destroy work", function()
  H.check(not io.open("/dev/null"), "still no fd left")
  local n, m = 0, 0
  local g = H.track(t.getit(5, function() n = n + 1 end))
  H.check(g, "getit")
  H.check(t.oneoff(function() m = m + 1 end, 0), "oneoff")
  H.eq(t.wait(5000 * H.SLOW), true, "wait")
  H.wait_until(function() t.process_events() return m == 1 and n >= 3 end, 5000)
  g = g:destroy()
  t.process_events()
  H.eq(t.sleep(5), true, "sleep")
  H.eq(t.pending(), 0)
  H.eq(t.inqueue(), 0)
  local s, ms = t.time()
  H.check(s > 0 and ms >= 0, "time")
end)

test("FLT-09d once fds are freed t.fd() works and is readable for the event that waited", function()
  H.check(not io.open("/dev/null"), "still no fd left")
  t.oneoff(nop, 0)
  H.eq(t.wait(5000 * H.SLOW), true, "the event is in")
  H.eq(select(3, t.fd()), "EMFILE", "t.fd() still fails")
  free(2)                       -- one for the eventfd, one for fdinfo
  local fd = t.fd()
  H.eq(type(fd), "number", "t.fd() once an fd is free")
  H.eq(t.fd(), fd, "the same fd every call")
  H.eq(readable(fd), true, "readable: an event waits")
  H.eq(t.process_events(), 1)
  H.eq(readable(fd), false, "drained")
  free(#held)
end)

local lim = soft_limit()
if not lim or lim > 4096 then
  print(string.format("# skipped: RLIMIT_NOFILE soft limit %s is too high to fill (run under prlimit --nofile=64)",
                      tostring(lim)))
  os.exit(77)
end

local passed, failed = 0, 0
io.stdout:setvbuf("line")
print(string.format("# FLT-09d under %s, RLIMIT_NOFILE %d", H.LUA, lim))
for _, tc in ipairs(H.tests) do
  local t0 = H.now()
  local ok, err = xpcall(tc.fn, debug.traceback)
  H.destroy_tracked()
  pcall(t.process_events)
  if ok then
    passed = passed + 1
    print(string.format("ok   %s (%d ms)", tc.name, H.now() - t0))
  else
    failed = failed + 1
    print(string.format("FAIL %s\n     %s", tc.name, tostring(err):gsub("\n", "\n     ")))
  end
end
free(#held)
print(string.format("%d passed, %d failed", passed, failed))
os.exit(failed == 0 and 0 or 1, true)
