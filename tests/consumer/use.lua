-- consumer: the installed luamockit, used as the usage notes use it (both
-- argument orders, the wait() loop, a = a:destroy()), found through
-- LUA_CPATH alone.  Short: about half a second.
local expect = os.getenv("EXPECT_MODULE")
local found = package.searchpath("luamockit", package.cpath)
assert(found == expect, ("luamockit found at %s, expected %s"):format(tostring(found), tostring(expect)))

local t = require("luamockit")
assert(t.init() == true, "t.init()")

local calls = 0
local function mycallback() calls = calls + 1 end

-- the notes: t.oneoff(cb, ms), then wait() and process_events()
local one = t.oneoff(mycallback, 50)
assert(one, "t.oneoff")
assert(t.wait(5000) == true, "t.wait: the one-shot did not come")
assert(t.process_events() == 1 and calls == 1, "one-shot delivered once")

-- the notes: a = t.getit(cb, ms) ... a = a:destroy(); later scripts: (ms, cb)
local a = t.getit(mycallback, 20)
local b = t.getit(20, mycallback)
assert(a and b, "t.getit in both argument orders")
while calls < 11 do
  t.wait()
  t.process_events()
end
a = a:destroy()
b = b:destroy()
assert(a == nil and b == nil, "destroy returns nil")
t.sleep(60)
assert(t.pending() == 0 and t.process_events() == 0, "no calls after destroy")

-- failures: luv's triple, so `if not cbObj then` works
local obj, msg, code = t.getit(mycallback, 0)
assert(obj == nil and code == "EINVAL" and msg:match("^EINVAL: "), "getit(cb, 0) -> nil, msg, EINVAL")
local ok, err = pcall(t.getit, mycallback, "20")
assert(not ok and err:match("bad argument #2 to 'getit'"), "type error names the argument: " .. tostring(err))

local secs, ms = t.time()
assert(secs > 1600000000 and ms >= 0 and ms < 1000, "t.time()")
assert(t.mstimestamp() >= secs * 1000, "t.mstimestamp()")
assert(t.sleep(10) == true, "t.sleep(10)")
print(("luamockit %s from %s: %d calls, ok"):format(_VERSION, found, calls))
