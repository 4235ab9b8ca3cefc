-- test_errors.lua: errors raised by callbacks (LUA-05).
local H = require("harness")
local t, test = H.t, H.test

local function pending_is(n)
  return function() return t.pending() == n end
end

test("LUA-05 error('boom') propagates out of process_events; the rest stay queued", function()
  local log = {}
  t.oneoff(function() log[#log + 1] = "A"; error("boom") end, 0)
  t.oneoff(function() log[#log + 1] = "B" end, 30)
  t.oneoff(function() log[#log + 1] = "C" end, 30)
  H.wait_until(pending_is(3))
  local ok, err = pcall(t.process_events)
  H.eq(ok, false)
  H.check(tostring(err):find("boom", 1, true), err)
  H.eq(table.concat(log), "A", "stopped at the error")
  H.eq(t.pending(), 2, "B and C still queued")
  H.eq(t.inqueue(), 2)
  H.eq(t.process_events(), 2)
  H.eq(table.concat(log), "ABC")
end)

test("LUA-05 a table error object keeps its identity", function()
  local e = {code = 1}
  t.oneoff(function() error(e) end, 0)
  H.wait_until(pending_is(1))
  local ok, err = pcall(t.process_events)
  H.eq(ok, false)
  H.check(rawequal(err, e), "the same table")
  H.eq(err.code, 1)
end)

test("LUA-05 runtime errors and error(nil-ish values) propagate unchanged", function()
  t.oneoff(function() local x = nil; return x.field end, 0)
  H.wait_until(pending_is(1))
  local ok, err = pcall(t.process_events)
  H.eq(ok, false)
  H.check(tostring(err):find("index", 1, true), err)
  t.oneoff(function() error(42, 0) end, 0)
  H.wait_until(pending_is(1))
  ok, err = pcall(t.process_events)
  H.eq(ok, false)
  H.eq(err, 42)
end)

test("LUA-05 an erroring interval keeps firing until destroyed", function()
  local n = 0
  local g = H.track(t.getit(5, function() n = n + 1; error("tick") end))
  local errors = 0
  H.wait_until(function()
    if t.pending() > 0 and not pcall(t.process_events) then errors = errors + 1 end
    return errors >= 5
  end, 3000, "five errors")
  H.eq(n, errors, "one call per error")
  g:destroy()
  t.sleep(20)
  H.eq(t.process_events(), 0)
end)

test("LUA-05 xpcall with a traceback handler sees the callback's frames", function()
  local function the_callback() error("deep") end
  t.oneoff(the_callback, 0)
  H.wait_until(pending_is(1))
  local ok, tb = xpcall(t.process_events, debug.traceback)
  H.eq(ok, false)
  H.check(tostring(tb):find("deep", 1, true), tb)
  H.check(tostring(tb):find("test_errors.lua", 1, true), "traceback reaches the callback: " .. tostring(tb))
  H.check(tostring(tb):find("traceback", 1, true), tb)
end)

test("LUA-05 many erroring callbacks: memory and registry flat", function()
  local K, R = H.count(1000), H.VG and 2 or 20
  local e = {}
  local function boom() error(e) end
  H.full_gc()
  local r0, m0 = H.registry_size(), collectgarbage("count")
  local errors = 0
  for round = 1, R do
    for i = 1, K do t.oneoff(boom, 0) end
    H.wait_until(pending_is(K), 5000)
    while t.pending() > 0 do
      local ok, err = pcall(t.process_events)
      H.check(not ok and rawequal(err, e), "the error object")
      errors = errors + 1
    end
    if round == 1 then H.full_gc(); r0, m0 = H.registry_size(), collectgarbage("count") end
  end
  H.eq(errors, K * R)
  H.full_gc()
  local r1, m1 = H.registry_size(), collectgarbage("count")
  H.check(r1 - r0 <= 10, string.format("registry %d -> %d", r0, r1))
  H.check(m1 - m0 < 64, string.format("Lua heap %.1f -> %.1f KiB", m0, m1))
end)
