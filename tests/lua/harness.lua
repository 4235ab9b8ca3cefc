-- harness.lua: the tiny test library of the luamockit suite (Lua 5.1-5.4,
-- LuaJIT).  Tests register with H.test(name, fn); run.lua runs them.
--
-- Timing: never assert precise timing.  Correctness invariants (never
-- early, exact counts, no call after destroy) are strict; upper bounds on
-- lateness are generous and multiplied by H.SLOW (20 under valgrind:
-- MOCKIT_UNDER_VALGRIND=1).  H.count(n) scales iteration counts by
-- MOCKIT_TEST_SCALE and down under valgrind.
local H = {}

H.t = require("luamockit")
H.VG = os.getenv("MOCKIT_UNDER_VALGRIND") == "1"
H.SLOW = H.VG and 20 or 1
H.SCALE = tonumber(os.getenv("MOCKIT_TEST_SCALE") or "1") or 1
H.LUA = (jit and jit.version) or _VERSION
H.tests = {}

function H.count(n)
  local c = math.floor(n * H.SCALE / (H.VG and 20 or 1))
  return c < 1 and 1 or c
end

function H.test(name, fn)
  H.tests[#H.tests + 1] = {name = name, fn = fn}
end

local function fail(msg, level)
  error(msg, (level or 1) + 2)
end

function H.check(cond, msg)
  if not cond then fail("check failed: " .. tostring(msg or "?")) end
  return cond
end

function H.eq(got, want, msg)
  if got ~= want then
    fail(string.format("%s: expected %s, got %s", tostring(msg or "eq"),
                       tostring(want), tostring(got)))
  end
end

-- fn must raise; the message must contain plain text `text` (if given).
function H.raises(fn, text, msg)
  local ok, err = pcall(fn)
  if ok then fail((msg or "raises") .. ": no error raised") end
  if text and not string.find(tostring(err), text, 1, true) then
    fail(string.format("%s: error %q does not contain %q", msg or "raises",
                       tostring(err), text))
  end
  return err
end

-- Wall-clock milliseconds (integer).  The suite measures elapsed times
-- with it; floor() of both ends keeps "elapsed >= ms" exact.
function H.now()
  return H.t.mstimestamp()
end

-- Poll pred() every 2 ms until it holds or timeout_ms (x H.SLOW) passes.
function H.wait_until(pred, timeout_ms, msg)
  local deadline = H.now() + (timeout_ms or 2000) * H.SLOW
  while not pred() do
    if H.now() > deadline then
      fail("timed out waiting: " .. tostring(msg or "condition"))
    end
    H.t.sleep(2)
  end
end

-- Timers a test arms and must destroy: if the test fails half-way, the
-- runner destroys them so that they cannot disturb the next tests.  The
-- table is weak: tracking changes no object's lifetime.
H.tracked = setmetatable({}, {__mode = "k"})
function H.track(o, ...)
  if o then H.tracked[o] = true end
  return o, ...
end

function H.destroy_tracked()
  for o in pairs(H.tracked) do o:destroy() end
  H.tracked = setmetatable({}, {__mode = "k"})
end

function H.registry_size()
  local n = 0
  for _ in pairs(debug.getregistry()) do n = n + 1 end
  return n
end

function H.full_gc()
  collectgarbage("collect")
  collectgarbage("collect")
end

-- Exit code from os.execute() under 5.1 (raw wait status) and 5.2+.
function H.exitcode(a, b, c)
  if type(a) == "number" then
    if a >= 256 then return math.floor(a / 256) end
    return a
  end
  if a == true then return 0 end
  return c
end

-- Run a Lua script in a fresh interpreter (the one running the suite,
-- same LUA_CPATH); return exit code, output.
function H.run_script(src)
  local interp = arg and arg[-1] or "lua"
  local i = -1
  while arg and arg[i - 1] do i = i - 1 end   -- arg[i] is the interpreter
  interp = arg and arg[i] or interp
  local file = os.tmpname()
  local out = os.tmpname()
  local f = assert(io.open(file, "w"))
  f:write(src)
  f:close()
  local code = H.exitcode(os.execute(string.format("%s %s >%s 2>&1", interp, file, out)))
  local o = assert(io.open(out, "r"))
  local text = o:read("*a")
  o:close()
  os.remove(file)
  os.remove(out)
  return code, text
end

return H
