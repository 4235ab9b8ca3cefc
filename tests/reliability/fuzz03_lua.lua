-- fuzz03_lua.lua: RELIABILITY.md FUZZ-03, a seeded property test of
-- luamockit.  Each seed drives CALLS random module calls (random and
-- wrong-typed arguments, callbacks that arm, destroy, raise errors) against
-- a model:
--   * every call succeeds, returns luv's triple (nil, "EXXX: ...", "EXXX")
--     for a C-library failure, or raises a Lua error naming the function;
--   * no callback of a destroyed timer after its destroy() returned;
--   * process_events() returns the number of callbacks it made;
--   * pending() and inqueue() never negative, inqueue() <= pending();
--   * after everything is destroyed: no event, no call.
--
--   lua5.4 fuzz03_lua.lua [SEEDS [CALLS [FIRST_SEED]]]
-- (MOCKIT_TEST_SCALE multiplies SEEDS; a failure prints the seed.)

local t = require("luamockit")

local scale = tonumber(os.getenv("MOCKIT_TEST_SCALE") or "1") or 1
local seeds = math.floor((tonumber(arg[1]) or 40) * scale)
local calls_per_seed = tonumber(arg[2]) or 600
local first_seed = tonumber(arg[3]) or 1

-- a small deterministic PRNG (the same on every Lua version)
local state
local function rnd(n)   -- 0 .. n-1
  state = (state * 1103515245 + 12345) % 2147483648
  return math.floor(state / 65536) % n
end

local seed_now
local function fail(msg)
  error(string.format("FUZZ-03 seed %d: %s", seed_now, msg), 0)
end

local bad_values = { "nil", "str", "tbl", "bool", -1, 1.5, "nan", "inf", 2^53, 4294967296 }
local function bad_value(k)
  local v = bad_values[k]
  if v == "nil" then return nil end
  if v == "str" then return "12" .. "x" end
  if v == "tbl" then return {} end
  if v == "bool" then return true end
  if v == "nan" then return 0 / 0 end
  if v == "inf" then return math.huge end
  return v
end

local function run_seed(seed)
  seed_now = seed
  state = seed
  local timers = {}       -- id -> { obj =, destroyed =, interval = }
  local next_id = 0
  local made = 0          -- callbacks actually made (all timers)

  local function live_ids()
    local ids = {}
    for id, rec in pairs(timers) do
      if not rec.destroyed then ids[#ids + 1] = id end
    end
    table.sort(ids)
    return ids
  end

  local function destroy(id)
    local rec = timers[id]
    if not rec then return end
    local r = rec.obj:destroy(rnd(2) == 0)
    if r ~= nil then fail("destroy returned " .. tostring(r)) end
    rec.destroyed = true
  end

  local arm   -- forward

  local function make_cb(id)
    return function()
      local rec = timers[id]
      if rec.destroyed then fail("timer " .. id .. " called after its destroy()") end
      made = made + 1
      rec.calls = rec.calls + 1
      local a = rnd(20)
      if a == 0 then
        destroy(id)                       -- itself
      elseif a == 1 then
        local ids = live_ids()
        if #ids > 0 then destroy(ids[rnd(#ids) + 1]) end   -- another (maybe itself)
      elseif a == 2 and next_id < 200 then
        arm(rnd(2) == 0, rnd(3))          -- a new one from inside
      elseif a == 3 then
        error({ code = id })              -- a non-string error object
      end
    end
  end

  arm = function(interval, ms)
    next_id = next_id + 1
    local id = next_id
    timers[id] = { destroyed = false, interval = interval, calls = 0 }
    local f = interval and t.getit or t.oneoff
    local obj, msg, name
    if rnd(2) == 0 then obj, msg, name = f(make_cb(id), ms) else obj, msg, name = f(ms, make_cb(id)) end
    if obj == nil then
      -- only getit(.., 0) is refused by the library here
      if not (interval and ms == 0) then fail("arm failed: " .. tostring(msg)) end
      if name ~= "EINVAL" or not tostring(msg):find("^EINVAL") then
        fail("arm failure not luv's triple: " .. tostring(msg) .. " " .. tostring(name))
      end
      timers[id] = nil
      return nil
    end
    if interval and ms == 0 then fail("getit(0) accepted") end
    timers[id].obj = obj
    return id
  end

  local function process()
    local before = made
    local ok, n = pcall(t.process_events)
    if ok then
      if n ~= made - before then
        fail(string.format("process_events returned %s, made %d calls", tostring(n), made - before))
      end
    else
      if type(n) ~= "table" or type(n.code) ~= "number" then
        fail("process_events raised " .. tostring(n) .. " (want the callback's table, unchanged)")
      end
    end
  end

  local function check_counts()
    -- inqueue first: events may arrive between the two reads, never leave
    local q = t.inqueue()
    local p = t.pending()
    if type(p) ~= "number" or p < 0 then fail("pending() = " .. tostring(p)) end
    if type(q) ~= "number" or q < 0 then fail("inqueue() = " .. tostring(q)) end
    if q > p then fail(string.format("inqueue() %d > pending() %d", q, p)) end
  end

  local function expect_error(fname, f, ...)
    local ok, err = pcall(f, ...)
    if ok then return false end
    if type(err) ~= "string" or not err:find(fname, 1, true) then
      fail(fname .. ": error does not name the function: " .. tostring(err))
    end
    return true
  end

  for _ = 1, calls_per_seed do
    local op = rnd(16)
    if op <= 2 then
      arm(false, rnd(4))
    elseif op <= 4 then
      arm(true, rnd(4))                   -- 0 -> the EINVAL triple
    elseif op == 5 then
      local ids = live_ids()
      if #ids > 0 then destroy(ids[rnd(#ids) + 1]) end
    elseif op == 6 or op == 7 then
      process()
    elseif op == 8 then
      local r = t.wait(rnd(3))
      if type(r) ~= "boolean" then fail("wait returned " .. tostring(r)) end
    elseif op == 9 then
      if t.sleep(rnd(2)) ~= true then fail("sleep did not return true") end
    elseif op == 10 then
      -- wrong-typed or out-of-range arguments: a Lua error naming the function
      local which = rnd(2) == 0 and "oneoff" or "getit"
      local v = bad_value(rnd(#bad_values) + 1)
      local f = t[which]
      local raised = expect_error(which, f, function() end, v)
      if not raised then
        -- accepted (only possible for values that are valid after all)
        fail(which .. " accepted " .. tostring(v))
      end
      expect_error(which, f, v, v)
      expect_error(which, f)
    elseif op == 11 then
      expect_error("sleep", t.sleep, bad_value(rnd(3) + 2))
      expect_error("wait", t.wait, "x")
    elseif op == 12 then
      local s, ms = t.time()
      if type(s) ~= "number" or type(ms) ~= "number" or ms < 0 or ms > 999 then fail("time()") end
      if type(t.mstimestamp()) ~= "number" then fail("mstimestamp()") end
      if type(t.fd()) ~= "number" then fail("fd()") end
    elseif op == 13 then
      collectgarbage(rnd(2) == 0 and "collect" or "step")
    elseif op == 14 then
      -- destroy twice: does nothing
      local ids = live_ids()
      if #ids > 0 then
        local id = ids[rnd(#ids) + 1]
        destroy(id)
        if timers[id].obj:destroy() ~= nil then fail("second destroy") end
      end
    else
      check_counts()
    end
    check_counts()
  end

  -- the end: destroy everything; no event may remain or arrive
  for _, id in ipairs(live_ids()) do destroy(id) end
  t.sleep(10)
  local before = made
  local ok, n = pcall(t.process_events)
  if not ok then fail("process_events after destroying all raised " .. tostring(n)) end
  if n ~= 0 or made ~= before then fail("calls after everything was destroyed: " .. tostring(n)) end
  if t.pending() ~= 0 or t.inqueue() ~= 0 then fail("events queued after everything was destroyed") end
  return next_id
end

local total_timers = 0
for s = first_seed, first_seed + seeds - 1 do
  total_timers = total_timers + run_seed(s)
end
print(string.format("FUZZ-03: %d seeds x %d calls, %d timers, no model violation", seeds, calls_per_seed,
  total_timers))
