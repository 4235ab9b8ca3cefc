-- run.lua: runs the luamockit test suite under the interpreter that runs
-- it.  Usage: LUA_CPATH='<build>/bindings/lua/lua5.x/?.so;;' lua5.x run.lua [pattern]
-- Prints one line per test and a last line "N passed, N failed"; exits
-- non-zero when a test failed.
local dir = (arg and arg[0] or ""):match("^(.*)/") or "."
package.path = dir .. "/?.lua;" .. package.path

local H = require("harness")
local t = H.t
local files = {"test_api", "test_events", "test_lifecycle", "test_errors",
               "test_coroutines", "test_fd_wait", "test_process"}
for _, f in ipairs(files) do dofile(dir .. "/" .. f .. ".lua") end

local pattern = arg and arg[1]
local passed, failed = 0, 0
io.stdout:setvbuf("line")
print(string.format("# luamockit suite under %s%s", H.LUA,
                    H.VG and " (valgrind: timing x20, counts /20)" or ""))
for _, tc in ipairs(H.tests) do
  if not pattern or string.find(tc.name, pattern, 1, true) then
    local t0 = H.now()
    local ok, err = xpcall(tc.fn, debug.traceback)
    -- Isolation: nothing a test left behind reaches the next one.
    H.destroy_tracked()
    pcall(t.process_events)
    H.full_gc()
    if ok and t.pending() ~= 0 then
      ok, err = false, "left events in the queue"
    end
    while t.pending() > 0 do pcall(t.process_events) end
    if ok then
      passed = passed + 1
      print(string.format("ok   %s (%d ms)", tc.name, H.now() - t0))
    else
      failed = failed + 1
      print(string.format("FAIL %s\n     %s", tc.name,
                          tostring(err):gsub("\n", "\n     ")))
    end
  end
end
print(string.format("%d passed, %d failed", passed, failed))
os.exit(failed == 0 and 0 or 1, true)
