-- seed_wait.lua: the usage notes' "wait() approach", as the notes write
-- it, bounded: the interval loop runs 25 times (about 5 s), then the timer
-- is destroyed and the script exits 0.  About 7 s.
t=require("luamockit")

local start = t.mstimestamp()
local calls = 0
function mycallback()
  calls = calls + 1
  print(string.format("[%6.3f s] called callback (%d)", (t.mstimestamp() - start) / 1000, calls))
end

res = t.init()
if not res then
  print("failed to initialize library");
  os.execute("exit 1")
end

-- register one-shot callback
t.oneoff(mycallback,2000)
t.wait() -- unblocks AS SOON AS the timer expires
print(string.format("[%6.3f s] wait() returned", (t.mstimestamp() - start) / 1000))
t.process_events()  -- ==> much more accurate than luamockit.sleep()

cbObj = t.getit(mycallback, 200) -- event gets generated every 0.2 secs
if not cbObj then print("failed");os.execute("exit"); end

-- the notes loop forever; this demo stops after 25 events
for round = 1, 25 do
   t.wait()
   -- wait() unblocks every time the queue is NOT EMPTY
   t.process_events()
end

cbObj = cbObj:destroy()
print("destroyed the interval timer: cbObj = " .. tostring(cbObj) .. ", " .. calls .. " callbacks in all")
os.exit(calls >= 26 and 0 or 1)
