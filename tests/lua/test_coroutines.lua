-- test_coroutines.lua: coroutines (LUA-06).  No coroutine's lua_State is
-- ever stored: callbacks run on the thread that drains.
local H = require("harness")
local t, test = H.t, H.test

test("LUA-06 timers armed in a coroutine that is collected before draining", function()
  local n = 0
  local weak = setmetatable({}, {__mode = "k"})
  local co = coroutine.create(function()
    for i = 1, 10 do t.oneoff(function() n = n + 1 end, i) end
    local g = H.track(t.getit(5, function() n = n + 1 end))
    coroutine.yield(g)
  end)
  weak[co] = true
  local ok, g = coroutine.resume(co)
  H.check(ok, g)
  co = nil
  H.full_gc()
  H.eq(next(weak), nil, "the coroutine is gone")
  H.wait_until(function() return t.pending() >= 12 end)
  local c = t.process_events()
  H.eq(n, c)
  H.check(n >= 12, n)
  g:destroy()
end)

test("LUA-06 process_events and wait called inside a coroutine", function()
  local where
  local main = coroutine.running()
  local co = coroutine.create(function()
    t.oneoff(function() where = coroutine.running() end, 5)
    local w = t.wait(2000 * H.SLOW)
    coroutine.yield(w)
    return t.process_events()
  end)
  local ok, w = coroutine.resume(co)
  H.check(ok and w == true, "wait in the coroutine")
  local ok2, c = coroutine.resume(co)
  H.check(ok2, c)
  H.eq(c, 1)
  H.check(where ~= nil and where ~= main, "the callback ran on the draining coroutine")
end)

test("LUA-06 a callback that yields raises a clean error and the queue stays intact", function()
  local log = {}
  t.oneoff(function() log[#log + 1] = "Y"; coroutine.yield("x") end, 0)
  t.oneoff(function() log[#log + 1] = "B" end, 20)
  H.wait_until(function() return t.pending() == 2 end)
  local co = coroutine.create(function() return t.process_events() end)
  local ok, err = coroutine.resume(co)
  H.eq(ok, false, "cannot yield across process_events")
  H.check(tostring(err):find("yield", 1, true), err)
  H.eq(coroutine.status(co), "dead")
  H.eq(table.concat(log), "Y")
  H.eq(t.pending(), 1, "B still queued")
  H.eq(t.process_events(), 1)
  H.eq(table.concat(log), "YB")
end)

test("LUA-06 a coroutine arms, the main thread drains; many coroutines", function()
  local n = 0
  local M = H.count(200)
  for i = 1, M do
    local co = coroutine.wrap(function() t.oneoff(function() n = n + 1 end, i % 3) end)
    co()
  end
  H.full_gc()
  H.wait_until(function() return t.pending() == M end)
  H.eq(t.process_events(), M)
  H.eq(n, M)
end)
