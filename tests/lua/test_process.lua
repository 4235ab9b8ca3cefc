-- test_process.lua: whole-interpreter life cycle in child processes:
-- lua_close with timers armed (LUA-03), os.exit(code, true), require
-- first run inside a collected coroutine (LUA-06), module unload (LUA-04).
local H = require("harness")
local test = H.test

local arm_many = [[
local t = require("luamockit")
local keep = {}
for i = 1, 200 do keep[i] = t.getit(1, function() end) end
for i = 1, 200 do t.oneoff(function() end, i % 3) end
t.getit(1, function() end)          -- dropped, still armed
t.sleep(15)                         -- library threads enqueueing
]]

test("LUA-03 a script that ends with timers armed exits cleanly (lua_close)", function()
  for i = 1, H.VG and 2 or 5 do
    local code, out = H.run_script(arm_many .. "print('end of script')\n")
    H.eq(code, 0, "exit status; output: " .. out)
    H.check(out:find("end of script", 1, true), out)
  end
end)

test("LUA-03 os.exit(code, true) with timers armed", function()
  if _VERSION == "Lua 5.1" then print("     (os.exit has no close argument in " .. H.LUA .. ": plain exit)") end
  local code, out = H.run_script(arm_many .. "io.stdout:write('bye\\n') os.exit(0, true)\n")
  H.eq(code, 0, "status 0; output: " .. out)
  H.check(out:find("bye", 1, true), out)
  code, out = H.run_script(arm_many .. "os.exit(3, true)\n")
  H.eq(code, 3, "status 3; output: " .. out)
end)

test("LUA-03 an error ending the script with timers armed", function()
  local code, out = H.run_script(arm_many .. "error('stop here')\n")
  H.eq(code, 1, "lua exits 1 on an error; output: " .. out)
  H.check(out:find("stop here", 1, true), out)
end)

test("LUA-06 require first run inside a coroutine that is then collected", function()
  local code, out = H.run_script([[
local co = coroutine.create(function() return require("luamockit") end)
local ok, t = coroutine.resume(co)
assert(ok, t)
co = nil
collectgarbage() collectgarbage()
local n = 0
t.oneoff(function() n = n + 1 end, 5)
local g = t.getit(5, function() n = n + 1 end)
assert(t.wait(10000))
t.sleep(30)
t.process_events()
collectgarbage() collectgarbage()
g = g:destroy()
print(n >= 2 and "OK" or ("BAD " .. n))
]])
  H.eq(code, 0, out)
  H.check(out:find("OK", 1, true), out)
end)

test("LUA-04 the module is reloaded after package.loaded is cleared: one queue per state", function()
  local code, out = H.run_script([[
local t1 = require("luamockit")
package.loaded.luamockit = nil
local t2 = require("luamockit")
assert(t1 ~= t2)
local n = 0
t1.oneoff(function() n = n + 1 end, 0)
t2.oneoff(function() n = n + 10 end, 0)
assert(t1.wait(10000))
t1.sleep(20)
assert(t2.pending() == 2, "the same state's queue: " .. t2.pending())
assert(t1.process_events() == 2)
print("n=" .. n)
]])
  H.eq(code, 0, out)
  H.check(out:find("n=11", 1, true), out)
end)
