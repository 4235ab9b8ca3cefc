-- test_api.lua: the SPEC section 3 table, argument validation (LUA-10),
-- sleep and time.
local H = require("harness")
local t, test = H.t, H.test

local function nop() end

test("API every function of SPEC section 3 is there", function()
  for _, name in ipairs{"init", "sleep", "time", "mstimestamp", "oneoff",
                        "getit", "wait", "process_events", "pending",
                        "inqueue", "fd"} do
    H.eq(type(t[name]), "function", name)
  end
  H.check(tostring(t._VERSION):find("^luamockit %d+%.%d+%.%d+$"), t._VERSION)
end)

test("API init() is true and idempotent", function()
  H.eq(t.init(), true, "first")
  H.eq(t.init(), true, "second")
  H.eq(select("#", t.init()), 1, "one result")
end)

test("API time() is secs, ms and agrees with mstimestamp()", function()
  local s, ms = t.time()
  local ts = t.mstimestamp()
  H.eq(type(s), "number")
  H.check(ms >= 0 and ms <= 999 and ms == math.floor(ms), "ms in 0..999")
  H.check(ts == math.floor(ts), "integer timestamp")
  if math.type then H.eq(math.type(ts), "integer", "math.type") end
  H.check(ts >= s * 1000 + ms and ts - (s * 1000 + ms) < 1000 * H.SLOW,
          "mstimestamp follows time()")
  H.check(s > 1600000000, "seconds since the epoch")
end)

test("API oneoff and getit take (cb, ms) and (ms, cb)", function()
  local got = {}
  local function mk(k) return function() got[k] = (got[k] or 0) + 1 end end
  local a = t.oneoff(mk("oneoff cb,ms"), 5)
  local b = t.oneoff(5, mk("oneoff ms,cb"))
  local c = H.track(t.getit(mk("getit cb,ms"), 5))
  local d = H.track(t.getit(5, mk("getit ms,cb")))
  for _, o in ipairs{a, b, c, d} do
    H.eq(getmetatable(o), "luamockit.timer", "a timer object")
  end
  H.wait_until(function()
    t.process_events()
    return got["getit cb,ms"] and got["getit ms,cb"] and got["oneoff cb,ms"]
       and got["oneoff ms,cb"]
  end, 2000, "all four called")
  H.eq(c:destroy(), nil)
  H.eq(d:destroy(), nil)
  t.process_events()
  H.eq(got["oneoff cb,ms"], 1, "one-shot once")
  H.eq(got["oneoff ms,cb"], 1, "one-shot once")
end)

test("API a callable table is a callback", function()
  local n = 0
  local callable = setmetatable({}, {__call = function() n = n + 1 end})
  t.oneoff(callable, 0)
  H.wait_until(function() return t.pending() == 1 end)
  H.eq(t.process_events(), 1)
  H.eq(n, 1)
end)

-- Called from a Lua function (not a tail call) so that every interpreter
-- has the debug information luaL_argerror uses.
local function err_of(fn, ...)
  local ok, err = pcall(fn, ...)
  H.check(not ok, "an error was expected")
  return tostring(err)
end

test("LUA-10 wrong types name the function and the argument", function()
  local o = t.oneoff(nop, 100000)
  local cases = {
    {function() local r = t.getit(nop, "x") return r end,
     "bad argument #2 to 'getit' (number expected, got string)"},
    {function() local r = t.getit(nop, "10") return r end,
     "bad argument #2 to 'getit' (number expected, got string)"},
    {function() local r = t.getit("x", nop) return r end,
     "bad argument #1 to 'getit' (function expected, got string)"},
    {function() local r = t.getit(10, "x") return r end,
     "bad argument #2 to 'getit' (function expected, got string)"},
    {function() local r = t.getit(nop) return r end,
     "bad argument #2 to 'getit' (number expected, got no value)"},
    {function() local r = t.getit() return r end,
     "bad argument #1 to 'getit' (function expected, got no value)"},
    {function() local r = t.oneoff(nil, 10) return r end,
     "bad argument #1 to 'oneoff' (function expected, got nil)"},
    {function() local r = t.oneoff(10, {}) return r end,
     "bad argument #2 to 'oneoff' (function expected, got table)"},
    {function() local r = t.oneoff(nop, true) return r end,
     "bad argument #2 to 'oneoff' (number expected, got boolean)"},
    {function() local r = t.oneoff(nop, {}) return r end,
     "bad argument #2 to 'oneoff' (number expected, got table)"},
    {function() local r = t.sleep("1") return r end,
     "bad argument #1 to 'sleep' (number expected, got string)"},
    {function() local r = t.sleep(nil) return r end,
     "bad argument #1 to 'sleep' (number expected, got nil)"},
    {function() local r = t.sleep(1, 1) return r end,
     "bad argument #2 to 'sleep' (boolean expected, got number)"},
    {function() local r = t.wait("x") return r end,
     "bad argument #1 to 'wait' (number expected, got string)"},
    {function() local r = t.wait(false) return r end,
     "bad argument #1 to 'wait' (number expected, got boolean)"},
    {function() local r = o:destroy(1) return r end,
     "bad argument #1 to 'destroy' (boolean expected, got number)"},
    {function() local r = o.destroy(1) return r end,
     "bad argument #1 to 'destroy' (luamockit.timer expected, got number)"},
  }
  for i, c in ipairs(cases) do
    local e = err_of(c[1])
    H.check(e:find(c[2], 1, true), string.format("case %d: %q lacks %q", i, e, c[2]))
  end
  o:destroy()
end)

test("LUA-10 also through pcall(t.f, ...) with no debug information", function()
  local ok, e = pcall(t.getit, nop, "x")
  H.check(not ok and tostring(e):find("bad argument #2 to 'getit' (number expected, got string)", 1, true), e)
  ok, e = pcall(t.oneoff, -1, nop)
  H.check(not ok and tostring(e):find("bad argument #1 to 'oneoff'", 1, true), e)
end)

test("LUA-10 negative, non-integral, NaN, inf and too large ms are argument errors", function()
  local bad = {-1, -0.5, 0.5, 1.5, 0 / 0, 1 / 0, -1 / 0, 2 ^ 53, 2 ^ 63,
               4294967296, 4294967295.5, -4294967296}
  if math.maxinteger then
    bad[#bad + 1] = math.maxinteger
    bad[#bad + 1] = math.mininteger
  end
  local calls = {
    {"oneoff", 2, function(v) local r = t.oneoff(nop, v) return r end},
    {"oneoff", 1, function(v) local r = t.oneoff(v, nop) return r end},
    {"getit", 2, function(v) local r = t.getit(nop, v) return r end},
    {"getit", 1, function(v) local r = t.getit(v, nop) return r end},
    {"sleep", 1, function(v) local r = t.sleep(v) return r end},
    {"wait", 1, function(v) local r = t.wait(v) return r end},
  }
  for _, v in ipairs(bad) do
    for _, c in ipairs(calls) do
      local e = err_of(c[3], v)
      local head = string.format("bad argument #%d to '%s' (", c[2], c[1])
      H.check(e:find(head, 1, true) and
              (e:find("out of range", 1, true) or
               e:find("no integer representation", 1, true)),
              string.format("%s(%s): %s", c[1], tostring(v), e))
    end
  end
  H.eq(t.pending(), 0, "nothing armed")
end)

test("LUA-10 accepted ms: 0, -0, 2.0 and 4294967295", function()
  local n = 0
  local function inc() n = n + 1 end
  t.oneoff(inc, 0)
  t.oneoff(-0.0, inc)
  t.oneoff(inc, 2.0)
  local far1 = t.oneoff(inc, 4294967295)
  local far2 = H.track(t.getit(4294967295, inc))
  H.wait_until(function() return t.pending() == 3 end)
  H.eq(t.process_events(), 3)
  H.eq(n, 3)
  H.eq(far1:destroy(), nil)
  H.eq(far2:destroy(), nil)
  local x = t.oneoff(nop, 4294967295.0)   -- a float where 5.3+ has integers
  x:destroy()
end)

test("LUA-10 getit(0) returns the fail triple nil, 'EINVAL: ...', 'EINVAL'", function()
  for _, args in ipairs{{nop, 0}, {0, nop}} do
    local a, b, c = t.getit(args[1], args[2])
    H.eq(a, nil, "first")
    H.eq(c, "EINVAL", "third")
    H.check(type(b) == "string" and b:find("^EINVAL: .+"), b)
  end
  local cbObj = t.getit(nop, 0)
  H.check(not cbObj, "the notes' `if not cbObj then` works")
  H.eq(t.pending(), 0)
end)

test("LUA-01 the timer metatable is protected", function()
  local o = t.oneoff(nop, 100000)
  H.eq(getmetatable(o), "luamockit.timer")
  H.eq(type(getmetatable(o)), "string", "__gc is out of reach")
  H.check(tostring(o):find("^luamockit%.timer %(one%-shot, 100000 ms, armed%)"), tostring(o))
  o:destroy()
  H.check(tostring(o):find("destroyed"), tostring(o))
end)

test("LUA-02 destroy returns nil; destroy(true), destroy(false), twice", function()
  local a = H.track(t.getit(nop, 1000))
  H.eq(a:destroy(true), nil, "destroy(true)")
  H.eq(a:destroy(), nil, "again")
  H.eq(a:destroy(false), nil, "again(false)")
  local b = t.oneoff(nop, 1000)
  b = b:destroy()
  H.eq(b, nil, "a = a:destroy()")
end)

test("LUA-12 sleep(ms) is true and never early; sleep(0) is immediate", function()
  for _, ms in ipairs{0, 1, 25, 60} do
    local t0 = H.now()
    local r, extra = t.sleep(ms)
    local e = H.now() - t0
    H.eq(r, true, "sleep(" .. ms .. ")")
    H.eq(extra, nil, "one result")
    H.check(e >= ms, string.format("sleep(%d) took %d ms", ms, e))
    H.check(e < ms + 1000 * H.SLOW, "not absurdly late")
  end
  H.eq(t.sleep(10, true), true, "resume flag")
  H.eq(t.sleep(10, false), true, "resume false")
end)
