-- test_lifecycle.lua: GC of timer objects (LUA-01) and Lua memory
-- hygiene (LUA-09).
local H = require("harness")
local t, test = H.t, H.test

local function nop() end

test("LUA-01 an armed interval with no reference survives GC and keeps firing", function()
  local weak = setmetatable({}, {__mode = "v"})
  local n = 0
  weak[1] = t.getit(5, function() n = n + 1 end)
  H.full_gc()
  H.check(weak[1] ~= nil, "pinned while armed")
  H.wait_until(function() t.process_events(); return n >= 3 end, 2000, "keeps firing")
  H.full_gc()
  H.check(weak[1] ~= nil, "still pinned")
  H.eq(weak[1]:destroy(), nil)
  H.full_gc()
  H.eq(weak[1], nil, "collectable once destroyed")
  local n0 = n
  t.sleep(20)
  H.eq(t.process_events(), 0)
  H.eq(n, n0, "no call after destroy")
end)

test("LUA-01 a dropped one-shot fires exactly once, then is collected", function()
  local weak = setmetatable({}, {__mode = "v"})
  local n = 0
  weak[1] = t.oneoff(function() n = n + 1 end, 10)
  H.full_gc()
  H.check(weak[1] ~= nil, "pinned until delivered")
  H.wait_until(function() return t.pending() == 1 end)
  H.full_gc()
  H.check(weak[1] ~= nil, "pinned while its event waits")
  H.eq(t.process_events(), 1)
  H.eq(n, 1)
  H.full_gc()
  H.eq(weak[1], nil, "collected after delivery")
  t.sleep(20)
  H.eq(t.process_events(), 0)
  H.eq(n, 1, "exactly once")
end)

test("LUA-01 a one-shot whose object the callback keeps stays usable", function()
  local keep
  local n = 0
  keep = t.oneoff(function() n = n + 1 end, 0)
  H.wait_until(function() return t.pending() == 1 end)
  H.eq(t.process_events(), 1)
  H.full_gc()
  H.check(tostring(keep):find("fired"), tostring(keep))
  H.eq(keep:destroy(), nil, "destroy of a fired one-shot")
  H.eq(keep:destroy(), nil, "twice")
end)

test("LUA-01 create/destroy cycles with GC steps: objects collected, memory and registry flat", function()
  local N = H.count(10000)
  local weak = setmetatable({}, {__mode = "k"})
  H.full_gc()
  local r0, m0 = H.registry_size(), collectgarbage("count")
  for i = 1, N do
    local o
    if i % 2 == 0 then o = t.getit(nop, 1000) else o = t.oneoff(1000, nop) end
    if i % 100 == 0 then weak[o] = true end
    o:destroy()
    if i % 10 == 0 then collectgarbage("step") end
  end
  H.full_gc()
  H.eq(next(weak), nil, "every sampled object collected")
  local r1, m1 = H.registry_size(), collectgarbage("count")
  H.check(math.abs(r1 - r0) <= 10, string.format("registry %d -> %d", r0, r1))
  H.check(m1 - m0 < 64, string.format("Lua heap %.1f -> %.1f KiB", m0, m1))
  H.eq(t.pending(), 0)
end)

test("LUA-09 registry back to baseline after delivered one-shots and destroyed intervals", function()
  local N = H.count(3000)
  H.full_gc()
  local r0, m0 = H.registry_size(), collectgarbage("count")
  local n = 0
  local function inc() n = n + 1 end
  for round = 1, 3 do
    local keep = {}
    for i = 1, N do
      if i % 3 == 0 then keep[#keep + 1] = t.getit(10, inc) else t.oneoff(inc, i % 4) end
    end
    H.wait_until(function() return t.inqueue() >= N end, 5000, "all fired")
    for _, g in ipairs(keep) do g:destroy() end
    t.process_events()
    H.eq(t.pending(), 0)
  end
  H.full_gc()
  local r1, m1 = H.registry_size(), collectgarbage("count")
  -- luaL_unref keeps freed slots as a free list: the registry stays at
  -- its peak of live references, so compare with what one round needs.
  H.check(r1 - r0 <= 2 * N + 10, string.format("registry %d -> %d", r0, r1))
  H.check(m1 - m0 < 64 + N * 0.1, string.format("Lua heap %.1f -> %.1f KiB", m0, m1))
  -- A second pass reuses the free list: no growth at all.
  for i = 1, N do t.oneoff(inc, 0) end
  H.wait_until(function() return t.pending() == N end, 5000)
  t.process_events()
  H.full_gc()
  H.check(H.registry_size() - r1 <= 10, "free list reused")
end)
