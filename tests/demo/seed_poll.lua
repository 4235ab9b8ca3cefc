-- seed_poll.lua: the usage notes' "polling approach", as the notes write
-- it, bounded: the interval loop runs 5 times, then the timer is destroyed
-- and the script exits 0.  About 10 s.
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
-- an event for the callback is generated after two seconds, but
-- we only process it after 5 seconds, when we check the queue
t.sleep(5000)
print(string.format("[%6.3f s] slept 5 s: pending() = %d", (t.mstimestamp() - start) / 1000, t.pending()))
print("process_events() -> " .. t.process_events()) -- an event will've have been added for our callback

cbObj = t.getit(mycallback, 200) -- event gets generated every 0.2 secs
if not cbObj then print("failed");os.execute("exit"); end

-- the notes loop forever; this demo stops after 5 rounds
for round = 1, 5 do
   t.sleep(1000)
   -- every time we wake up and check the queue, 5 events will've
   -- already been generated, since we check every one second but
   -- events get generated every 0.2 secs
   print(string.format("[%6.3f s] round %d: pending() = %d, inqueue() = %d",
                       (t.mstimestamp() - start) / 1000, round, t.pending(), t.inqueue()))
   print("process_events() -> " .. t.process_events())
end

cbObj = cbObj:destroy()
print("destroyed the interval timer: cbObj = " .. tostring(cbObj) .. ", " .. calls .. " callbacks in all")
os.exit(calls >= 20 and 0 or 1)
