-- test_fd_wait.lua: t.fd() for other event loops (LUA-11), t.wait and
-- t.sleep (LUA-12).  Signals (EINTR) and fork are in the C hosts.
local H = require("harness")
local t, test = H.t, H.test

local function nop() end

local function fdinfo(fd)
  local f = io.open("/proc/self/fdinfo/" .. fd)
  if not f then return nil end
  local s = f:read("*a")
  f:close()
  return s
end

-- An eventfd is readable iff its counter is non-zero.
local function readable(fd)
  local s = assert(fdinfo(fd), "no fdinfo")
  return tonumber(assert(s:match("eventfd%-count:%s*(%x+)")), 16) > 0
end

test("LUA-11 fd() is an eventfd with FD_CLOEXEC, the same every call", function()
  local fd = t.fd()
  H.eq(type(fd), "number")
  H.check(fd >= 0 and fd == math.floor(fd), fd)
  H.eq(t.fd(), fd, "stable")
  local info = assert(fdinfo(fd))
  H.check(info:find("eventfd-count", 1, true), "an eventfd: " .. info)
  local flags = tonumber(info:match("flags:%s*(%d+)"), 8)
  H.eq(math.floor(flags / 524288) % 2, 1, "O_CLOEXEC (02000000) in flags " .. info:match("flags:%s*(%d+)"))
end)

test("LUA-11 a spawned child does not inherit fd()", function()
  local fd = t.fd()
  local code = H.exitcode(os.execute("[ -e /proc/self/fd/" .. fd .. " ]"))
  H.eq(code, 1, "the shell has no fd " .. fd)
end)

test("LUA-11 fd() is readable iff events wait, also after a partial drain", function()
  local fd = t.fd()
  H.eq(readable(fd), false, "idle")
  t.oneoff(function() error("first") end, 0)
  t.oneoff(nop, 20)
  t.oneoff(nop, 20)
  H.wait_until(function() return t.pending() == 3 end)
  H.eq(readable(fd), true, "three waiting")
  H.check(not pcall(t.process_events), "first errors")
  H.eq(t.pending(), 2)
  H.eq(readable(fd), true, "two waiting after the error")
  H.eq(t.process_events(), 2)
  H.eq(readable(fd), false, "drained")
  local g = H.track(t.getit(5, nop))
  H.wait_until(function() return t.pending() > 0 end)
  H.eq(readable(fd), true, "interval waiting")
  g:destroy()
  H.eq(readable(fd), false, "destroy dropped the events")
  t.sleep(20)
  H.eq(readable(fd), false, "and nothing after destroy")
end)

test("LUA-11 fd() plugs into luv's uv.new_poll", function()
  local ok, uv = pcall(require, "luv")
  if not ok then print("     (skipped: luv not available for " .. H.LUA .. ")") return end
  local fd = t.fd()
  local polled, calls = 0, 0
  local poll = uv.new_poll(fd)
  poll:start("r", function(err, events)
    assert(not err, err)
    polled = polled + 1
    calls = calls + t.process_events()
  end)
  local guard = uv.new_timer()
  guard:start(3000 * H.SLOW, 0, function() poll:stop() end)
  local g = H.track(t.getit(10, function() end))
  t.oneoff(function() end, 5)
  while calls < 4 and guard:get_due_in() > 0 do uv.run("once") end
  g:destroy()
  poll:stop(); poll:close(); guard:stop(); guard:close()
  uv.run("nowait")
  H.check(calls >= 4, string.format("%d callbacks through %d polls", calls, polled))
  t.process_events()
end)

test("LUA-12 wait(100) with nothing armed is false after >= 100 ms", function()
  local t0 = H.now()
  local r = t.wait(100)
  local e = H.now() - t0
  H.eq(r, false)
  H.check(e >= 100, "never early: " .. e)
  H.check(e < 100 + 1000 * H.SLOW, "not absurdly late: " .. e)
end)

test("LUA-12 wait(0) does not block", function()
  local t0 = H.now()
  H.eq(t.wait(0), false)
  H.check(H.now() - t0 < 50 * H.SLOW, "immediate")
  t.oneoff(nop, 0)
  H.wait_until(function() return t.pending() == 1 end)
  H.eq(t.wait(0), true, "true when an event waits")
  t.process_events()
end)

test("LUA-12 wait() and wait(ms) return at once when events wait", function()
  t.oneoff(nop, 0)
  H.wait_until(function() return t.pending() == 1 end)
  local t0 = H.now()
  H.eq(t.wait(), true)
  H.eq(t.wait(100000), true)
  H.check(H.now() - t0 < 50 * H.SLOW, "immediate")
  H.eq(t.process_events(), 1)
end)

test("LUA-12 wait(timeout) wakes when an event arrives, never before its due time", function()
  local t0 = H.now()
  t.oneoff(nop, 50)
  local r = t.wait(5000 * H.SLOW)
  local e = H.now() - t0
  H.eq(r, true)
  H.check(e >= 50, "never early: " .. e)
  H.check(e < 1000 * H.SLOW, "woken by the event, not the time-out: " .. e)
  H.eq(t.process_events(), 1)
end)

test("LUA-12 wait() with no timeout blocks until an event", function()
  local t0 = H.now()
  t.oneoff(nop, 60)
  H.eq(t.wait(), true)
  H.check(H.now() - t0 >= 60, "never early")
  H.eq(t.process_events(), 1)
end)
