#!/usr/bin/env python3
"""mockit from Python, through ctypes (dlopen of libmockit.so.1).

Run:  LD_LIBRARY_PATH=/path/to/build/src python3 mockit_ctypes.py
      (not needed when libmockit.so.1 is installed in a system library path)

What this shows, and the rules it follows:

* libmockit is loaded with ctypes.CDLL, which RELEASES THE GIL around every
  foreign call.  That matters: Mockit_destroy() waits for a running
  callback, and a Python callback needs the GIL to finish.  With
  ctypes.PyDLL (which keeps the GIL) a destroy that waits for a Python
  callback would deadlock.
* The callbacks run on mockit's library threads ("mockit-clock",
  "mockit-cb").  A ctypes callback takes the GIL when it is called, so it
  waits while Python code runs elsewhere: expect up to a few milliseconds of
  extra lateness (sys.getswitchinterval()), and keep callbacks short.
* Keep the CFUNCTYPE objects and the struct data objects alive as long as
  the timer is armed (here: module-level names).  If Python frees them, the
  library calls freed memory.
* Destroy every timer before the interpreter exits: a callback that fires
  while Python finalises cannot take the GIL.
* An exception in a callback is printed by ctypes and swallowed; the
  callback then returns NULL, which mockit ignores.

Exit status 0 when everything behaved as the man pages say.
"""
import ctypes
import errno
import sys
import threading
import time

# ---- the C declarations of <mockit.h> ----------------------------------

# void *(*cb)(void *arg)
CALLBACK = ctypes.CFUNCTYPE(ctypes.c_void_p, ctypes.c_void_p)


class Data(ctypes.Structure):
    """struct data: its layout is ABI (24 bytes on LP64, 16 on ILP32)."""
    _fields_ = [
        ("cb", CALLBACK),               # called with this struct's address
        ("stuff", ctypes.c_void_p),     # ours; mockit never touches it
        ("timer_id", ctypes.c_uint64),  # written by mockit on every arm
    ]


PDATA = ctypes.POINTER(Data)
assert ctypes.sizeof(Data) == (24 if ctypes.sizeof(ctypes.c_void_p) == 8 else 16)

lib = ctypes.CDLL("libmockit.so.1", use_errno=True)   # CDLL: GIL released


def proto(name, restype, *argtypes):
    f = getattr(lib, name)
    f.restype = restype
    f.argtypes = list(argtypes)
    return f


Mockit_version = proto("Mockit_version", ctypes.c_char_p)
Mockit_data_init = proto("Mockit_data_init", PDATA)
Mockit_oneoff = proto("Mockit_oneoff", ctypes.c_int, ctypes.c_uint32, PDATA)
Mockit_getit = proto("Mockit_getit", ctypes.c_int, ctypes.c_uint32, PDATA)
Mockit_destroy = proto("Mockit_destroy", ctypes.c_int, PDATA)
Mockit_overrun = proto("Mockit_overrun", ctypes.c_int, PDATA)
Mockit_bsleep = proto("Mockit_bsleep", ctypes.c_int, ctypes.c_uint32,
                      ctypes.POINTER(ctypes.c_ssize_t), ctypes.POINTER(ctypes.c_int))
Mockit_mstimestamp = proto("Mockit_mstimestamp", ctypes.c_int,
                           ctypes.POINTER(ctypes.c_uint64))
# time_t is a C long on Linux (glibc, both LP64 and i386 without _TIME_BITS=64).
Mockit_gettime = proto("Mockit_gettime", ctypes.c_int,
                       ctypes.POINTER(ctypes.c_long), ctypes.POINTER(ctypes.c_long))

# ---- what the callbacks record ---------------------------------------------

lock = threading.Lock()
events = []                     # (name, thread name, overrun, timer_id)
oneshot_done = threading.Event()
interval_calls = 0
interval_five = threading.Event()


def thread_name():
    # mockit names its threads with pthread_setname_np; Python does not know
    # them, so read the kernel's name of the current thread.
    try:
        with open(f"/proc/self/task/{threading.get_native_id()}/comm") as f:
            return f.read().strip()
    except OSError:
        return "?"


def on_oneshot(arg):
    d = ctypes.cast(arg, PDATA).contents
    with lock:
        events.append(("one-shot", thread_name(), Mockit_overrun(d), d.timer_id))
    oneshot_done.set()
    return None                 # NULL: the return value is ignored


def on_interval(arg):
    global interval_calls
    d = ctypes.cast(arg, PDATA)
    with lock:
        interval_calls += 1
        events.append(("interval", thread_name(), Mockit_overrun(d), d.contents.timer_id))
        if interval_calls == 5:
            interval_five.set()
    return None


# Module-level references: alive as long as the timers are armed.
ONESHOT_CB = CALLBACK(on_oneshot)
INTERVAL_CB = CALLBACK(on_interval)


def check(cond, what):
    if not cond:
        print("FAIL:", what)
        sys.exit(1)
    print("ok  ", what)


def main():
    version = Mockit_version().decode()
    print("libmockit", version)

    # 1. A one-shot on a struct from Mockit_data_init (freed by destroy).
    heap = Mockit_data_init()
    check(bool(heap), "Mockit_data_init")
    heap.contents.cb = ONESHOT_CB
    check(Mockit_oneoff(30, heap) == 0, "Mockit_oneoff(30 ms)")
    check(oneshot_done.wait(5.0), "the one-shot callback ran")
    check(Mockit_destroy(heap) == 0, "Mockit_destroy of a fired Mockit_data_init struct: 0 (freed)")
    heap = None

    # 2. An interval timer on a struct that Python owns.
    every = Data()
    every.cb = INTERVAL_CB
    t0 = time.monotonic()
    check(Mockit_getit(20, ctypes.byref(every)) == 0, "Mockit_getit(20 ms)")
    check(interval_five.wait(5.0), "five interval calls")
    check(Mockit_destroy(ctypes.byref(every)) == 0, "Mockit_destroy of the armed interval timer: 0")
    with lock:
        at_destroy = interval_calls
    elapsed = time.monotonic() - t0
    Mockit_bsleep(60, None, None)   # three more periods
    with lock:
        after = interval_calls
    check(after == at_destroy, f"no call after destroy returned ({at_destroy} calls in {elapsed:.3f} s)")

    # 3. A caller-owned one-shot that has fired is forgotten: EINVAL.
    done = threading.Event()

    def on_fired(arg):
        done.set()
        return None
    fired_cb = CALLBACK(on_fired)    # local, but alive until the end of main
    fired = Data()
    fired.cb = fired_cb
    check(Mockit_oneoff(0, ctypes.byref(fired)) == 0, "Mockit_oneoff(0 ms): as soon as possible")
    check(done.wait(5.0), "the 0 ms one-shot ran")
    Mockit_bsleep(200, None, None)   # let its callback return (generously)
    check(Mockit_destroy(ctypes.byref(fired)) == errno.EINVAL,
          "Mockit_destroy of a fired caller-owned one-shot: EINVAL")

    # 4. Errors: positive errno values, errno only for Mockit_overrun.
    check(Mockit_getit(0, ctypes.byref(every)) == errno.EINVAL, "Mockit_getit(0 ms): EINVAL")
    check(Mockit_destroy(None) == errno.EINVAL, "Mockit_destroy(NULL): EINVAL")
    ctypes.set_errno(0)
    check(Mockit_overrun(ctypes.byref(every)) == -1 and ctypes.get_errno() == errno.EINVAL,
          "Mockit_overrun outside its callback: -1, errno EINVAL")

    # 5. Sleep and clocks.
    left, err = ctypes.c_ssize_t(-1), ctypes.c_int(-1)
    t1 = time.monotonic()
    rc = Mockit_bsleep(50, ctypes.byref(left), ctypes.byref(err))
    slept = time.monotonic() - t1
    check(rc == 0 and left.value == 0 and err.value == 0 and slept >= 0.050,
          f"Mockit_bsleep(50 ms): 0, left 0, error 0, slept {slept * 1000:.1f} ms")
    stamp = ctypes.c_uint64()
    secs, ms = ctypes.c_long(), ctypes.c_long()
    check(Mockit_mstimestamp(ctypes.byref(stamp)) == 0 and
          Mockit_gettime(ctypes.byref(secs), ctypes.byref(ms)) == 0 and
          abs(stamp.value / 1000 - time.time()) < 5 and 0 <= ms.value < 1000,
          f"wall clock: {secs.value}.{ms.value:03d} s, {stamp.value} ms")

    print("what the callbacks saw:")
    with lock:
        for name, thread, overrun, timer_id in events:
            print(f"  {name:9} on thread {thread!r:15} overrun {overrun} timer_id {timer_id}")
        names = {thread for _, thread, _, _ in events}
    check(names <= {"mockit-clock", "mockit-cb"}, "callbacks ran on mockit's threads only")
    check(all(o >= 0 for _, _, o, _ in events), "Mockit_overrun >= 0 inside the callbacks")
    print("all good")
    return 0


if __name__ == "__main__":
    sys.exit(main())
