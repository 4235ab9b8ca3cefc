#!/usr/bin/env python3
"""Turn the raw output of bench/run.sh into bench/RESULTS.md and an SVG of
the lateness CDFs.  Standard library only.

    python3 bench/report.py OUTDIR RESULTS.md lateness-cdf.svg
"""
import glob
import json
import math
import os
import platform
import re
import statistics
import subprocess
import sys
import time

OUT, RESULTS, SVG = sys.argv[1], sys.argv[2], sys.argv[3]

NAMES = {
    "mockit": "mockit",
    "cns": "clock_nanosleep thread (kernel floor)",
    "cns-slack1": "clock_nanosleep thread, timerslack 1 ns",
    "cyclictest": "cyclictest (rt-tests, SCHED_OTHER)",
    "sigev-thread-id": "POSIX timer, SIGEV_THREAD_ID + sigwaitinfo (bare POSIX floor)",
    "sigev-thread": "POSIX timer, glibc SIGEV_THREAD",
    "tpt": "thread per timer (seed's original design)",
    "libuv": "libuv, one loop",
    "luamockit": "luamockit",
    "luv": "luv",
}
ORDER = ["mockit", "sigev-thread-id", "cns", "cns-slack1", "cyclictest", "sigev-thread", "tpt", "libuv"]


def jsonl(pattern):
    rows = []
    for f in sorted(glob.glob(os.path.join(OUT, pattern))):
        with open(f) as fh:
            for line in fh:
                line = line.strip()
                if line.startswith("{"):
                    try:
                        rows.append(json.loads(line))
                    except ValueError:
                        pass
    return rows


def read(name, default=""):
    try:
        with open(os.path.join(OUT, name)) as fh:
            return fh.read().strip()
    except OSError:
        return default


def med(vals):
    vals = [v for v in vals if v is not None]
    return statistics.median(vals) if vals else None


def us(ns):
    if ns is None:
        return "n/a"
    a = abs(ns)
    if a >= 1e9:
        return "%.2f s" % (ns / 1e9)
    if a >= 1e7:
        return "%.1f ms" % (ns / 1e6)
    if a >= 1e6:
        return "%.2f ms" % (ns / 1e6)
    if a >= 1e4:
        return "%.0f µs" % (ns / 1e3)
    return "%.1f µs" % (ns / 1e3)


def nsfmt(ns):
    if ns is None:
        return "n/a"
    if ns >= 1e5:
        return us(ns)
    if ns >= 100:
        return "%.0f ns" % ns
    return "%.1f ns" % ns


def count(v):
    if v is None:
        return "n/a"
    if v >= 1e6:
        return "%.2f M" % (v / 1e6)
    if v >= 1e3:
        return "%.1f k" % (v / 1e3)
    return "%.0f" % v


def bytesfmt(v):
    return "n/a" if v is None else "%.0f B" % v


def cell(vals, fmt):
    """median [min-max] of the runs."""
    vals = [v for v in vals if v is not None]
    if not vals:
        return "n/a"
    m = statistics.median(vals)
    if len(vals) == 1 or min(vals) == max(vals):
        return fmt(m)
    return "%s [%s–%s]" % (fmt(m), fmt(min(vals)), fmt(max(vals)))


def ratio(v, ref):
    if v is None or ref is None or ref == 0:
        return "n/a"
    return "×%.2f" % (v / ref)


# ---------------------------------------------------------------- machine
def machine():
    cpu = "?"
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    v = (jsonl("versions.jsonl") or [{}])[0]
    gb = "?"
    try:
        out = subprocess.run(["dpkg-query", "-W", "-f=${Version}", "libbenchmark-dev"],
                             capture_output=True, text=True).stdout.strip()
        gb = out or "?"
    except OSError:
        pass
    return [
        ("nproc", str(os.cpu_count())),
        ("CPU", cpu),
        ("kernel", platform.release()),
        ("glibc", v.get("glibc", "?")),
        ("libuv", v.get("libuv") or "not found"),
        ("Lua", read("lua-version.txt", "not found")),
        ("luv", read("luv-version.txt", "not found")),
        ("mockit", v.get("mockit", "?")),
        ("cyclictest", read("cyclictest-version.txt", "not found")),
        ("Google Benchmark", gb),
        ("date", time.strftime("%Y-%m-%d %H:%M %Z", time.localtime(
            os.path.getmtime(os.path.join(OUT, "meta.jsonl")) if os.path.exists(os.path.join(OUT, "meta.jsonl")) else time.time()))),
        ("load average (1/5/15 min) at start, at end", "%s; %s" % (
            (jsonl("meta.jsonl") or [{}])[0].get("load_begin", "?"),
            (jsonl("meta.jsonl") or [{}])[0].get("load_end", "?"))),
    ]


# ---------------------------------------------------------------- lateness
def cyclic_samples(sc):
    """cyclictest -v -N lines 'thread: loop: latency_ns' per run."""
    runs = {}
    for f in sorted(glob.glob(os.path.join(OUT, "cyclictest-%s-*.raw" % sc))):
        r = int(re.search(r"-(\d+)\.raw$", f).group(1))
        vals = []
        for line in open(f, errors="replace"):
            m = re.match(r"\s*\d+:\s*\d+:\s*(-?\d+)\s*$", line)
            if m:
                vals.append(int(m.group(1)))
        if vals:
            runs[r] = vals
    return runs


def pctl(sorted_vals, p):
    if not sorted_vals:
        return None
    i = min(len(sorted_vals) - 1, int(p / 100.0 * len(sorted_vals)))
    return sorted_vals[i]


def lateness():
    data = {}   # (scenario, design) -> list of run dicts
    for f in sorted(glob.glob(os.path.join(OUT, "lat-*.jsonl"))):
        m = re.match(r"lat-(idle|far)-(.+)-(\d+)\.jsonl$", os.path.basename(f))
        if not m:
            continue
        for line in open(f):
            try:
                r = json.loads(line)
            except ValueError:
                continue
            if r.get("test") == "lateness" and "p50_ns" in r:
                data.setdefault((m.group(1), r["design"]), []).append(r)
    samples = {}
    for f in glob.glob(os.path.join(OUT, "lat-*-*.txt")):
        m = re.match(r"lat-(idle|far)-(.+)-(\d+)\.txt$", os.path.basename(f))
        if not m:
            continue
        sc, d = m.group(1), m.group(2)
        vals = [int(x) for x in open(f) if x.strip()]
        samples.setdefault((sc, d), []).extend(vals)
    for sc in ("idle", "far"):
        for r, vals in cyclic_samples(sc).items():
            s = sorted(vals)
            data.setdefault((sc, "cyclictest"), []).append({
                "design": "cyclictest", "run": r, "p50_ns": pctl(s, 50), "p99_ns": pctl(s, 99),
                "max_ns": s[-1], "drift_ns": None, "early": 0, "calls": len(s),
                "far_armed": 0, "far_stop": ""})
            samples.setdefault((sc, "cyclictest"), []).extend(vals)
    return data, samples


def lateness_table(data, sc):
    lines = ["| design | far timers armed | p50 | p99 | max | last tick - (start + k·10 ms) | drift (last 100 - first 100 ticks) | early | p50 / mockit | p99 / mockit |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    ref = data.get((sc, "mockit"), [])
    r50 = med([x["p50_ns"] for x in ref])
    r99 = med([x["p99_ns"] for x in ref])
    for d in ORDER:
        runs = data.get((sc, d))
        if not runs:
            continue
        far = ""
        if sc == "far":
            if d in ("cns", "cns-slack1", "cyclictest"):
                far = "— (reference)"
            else:
                far = count(med([x.get("far_armed") for x in runs]))
                stop = runs[0].get("far_stop")
                if stop:
                    far += " (%s)" % stop
        else:
            far = "0"
        lines.append("| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |" % (
            NAMES.get(d, d), far,
            cell([x["p50_ns"] for x in runs], us), cell([x["p99_ns"] for x in runs], us),
            cell([x["max_ns"] for x in runs], us),
            cell([x.get("drift_ns") for x in runs], us) if d != "cyclictest" else "n/a",
            cell([x.get("drift_sys_ns") for x in runs], us) if d != "cyclictest" else "n/a",
            cell([x.get("early") for x in runs], lambda v: "%d" % v),
            ratio(med([x["p50_ns"] for x in runs]), r50), ratio(med([x["p99_ns"] for x in runs]), r99)))
    return "\n".join(lines)


# ---------------------------------------------------------------- SVG
COLORS = {
    "mockit": "#d62728", "sigev-thread-id": "#1f77b4", "cns": "#2ca02c", "cns-slack1": "#98df8a",
    "cyclictest": "#7f7f7f", "sigev-thread": "#9467bd", "tpt": "#8c564b", "libuv": "#ff7f0e",
}


def svg(samples):
    W, H = 960, 380
    panels = [("idle", "10 ms interval, nothing else armed"),
              ("far", "10 ms interval, 1M far-future timers armed (where the design can)")]
    pw, ph = 400, 270
    x0s = [70, 530]
    y0 = 50
    lo, hi = 1e3, 1e8   # 1 µs .. 100 ms (log scale)
    all_vals = [v for vals in samples.values() for v in vals if v > 0]
    if all_vals:
        hi = max(1e5, 10 ** math.ceil(math.log10(max(all_vals))))
        lo = min(1e4, 10 ** math.floor(math.log10(max(1.0, min(all_vals)))))
    lo = max(lo, 100.0)

    def X(x0, v):
        v = min(max(v, lo), hi)
        return x0 + (math.log10(v) - math.log10(lo)) / (math.log10(hi) - math.log10(lo)) * pw

    # y: the CDF on a tail-stretching scale, -log10(1 - p): 0.9, 0.99 and
    # 0.999 are equally spaced, so p99 and the maxima are visible.
    ymax = 4.0

    def Y(p):
        t = -math.log10(max(1.0 - p, 10 ** -ymax))
        return y0 + ph - t / ymax * ph

    out = ['<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" '
           'font-family="sans-serif" font-size="11">' % (W, H + 90, W, H + 90),
           '<rect width="100%" height="100%" fill="white"/>',
           '<text x="%d" y="20" font-size="14" font-weight="bold">Lateness CDF of a 10 ms interval timer '
           '(all runs pooled; log scales)</text>' % 60]
    for (sc, title), x0 in zip(panels, x0s):
        out.append('<text x="%d" y="%d">%s</text>' % (x0, y0 - 8, title))
        out.append('<rect x="%d" y="%d" width="%d" height="%d" fill="none" stroke="#333"/>' % (x0, y0, pw, ph))
        dec = int(math.log10(lo))
        while 10 ** dec <= hi:
            v = 10 ** dec
            x = X(x0, v)
            out.append('<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="#ddd"/>' % (x, y0, x, y0 + ph))
            out.append('<text x="%.1f" y="%d" text-anchor="middle">%s</text>' % (x, y0 + ph + 14, re.sub(r"\.0+ ", " ", us(v))))
            dec += 1
        for p in (0, 0.5, 0.9, 0.99, 0.999, 0.9999):
            y = Y(p)
            out.append('<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="#eee"/>' % (x0, y, x0 + pw, y))
            out.append('<text x="%d" y="%.1f" text-anchor="end">%s</text>' % (x0 - 4, y + 4, "p%g" % (p * 100) if p else "0"))
        out.append('<text x="%d" y="%d" text-anchor="middle">lateness</text>' % (x0 + pw // 2, y0 + ph + 30))
        for d in ORDER:
            vals = sorted(samples.get((sc, d), []))
            if not vals:
                continue
            n = len(vals)
            pts = []
            # every sample in the tail, a thinned body
            idx = sorted(set(list(range(0, n, max(1, n // 300))) + list(range(max(0, n - 200), n))))
            if idx[-1] != n - 1:
                idx.append(n - 1)
            for i in idx:
                # the largest sample sits at p = 1 - 1/(2n), not off the scale
                pts.append("%.1f,%.1f" % (X(x0, vals[i]), Y((i + 0.5) / n)))
            out.append('<polyline fill="none" stroke="%s" stroke-width="%s" points="%s"/>' % (
                COLORS.get(d, "#000"), "2.5" if d == "mockit" else "1.5", " ".join(pts)))
    ly = y0 + ph + 50
    for i, d in enumerate([d for d in ORDER if any(k[1] == d for k in samples)]):
        lx = 70 + (i % 2) * 460
        yy = ly + (i // 2) * 16
        out.append('<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="%s" stroke-width="3"/>' % (lx, yy - 4, lx + 20, yy - 4, COLORS.get(d, "#000")))
        out.append('<text x="%d" y="%d">%s</text>' % (lx + 26, yy, NAMES.get(d, d).replace("&", "&amp;")))
    out.append("</svg>")
    with open(SVG, "w") as fh:
        fh.write("\n".join(out) + "\n")


# ---------------------------------------------------------------- arm cost
def armcost():
    res = {}   # (design/op, bg, threads) -> [ns per op per repetition]
    bgrate = {}
    for f in glob.glob(os.path.join(OUT, "armcost-*.json")):
        try:
            d = json.load(open(f))
        except ValueError:
            continue
        for b in d.get("benchmarks", []):
            if b.get("run_type") != "iteration" or b.get("error_occurred"):
                continue
            m = re.match(r"(.+?)/bg:(\w+)/.*threads:(\d+)", b["name"])
            if not m:
                continue
            ips = b.get("items_per_second")
            if not ips:
                continue
            res.setdefault((m.group(1), m.group(2), int(m.group(3))), []).append(1e9 / ips)
    for f in glob.glob(os.path.join(OUT, "armcost-*.err")):
        m = re.search(r"background callbacks: ([\d.]+)/s", open(f).read())
        if m:
            bgrate[os.path.basename(f)[8:-4]] = float(m.group(1))
    return res, bgrate


def arm_reps(arm):
    return max((len(v) for v in arm.values()), default=0)


# ---------------------------------------------------------------- main
def main():
    lat, samples = lateness()
    svg(samples)
    one = jsonl("oneshots.jsonl")
    arm, bgrate = armcost()
    idle = jsonl("idle-*.jsonl")
    lua = jsonl("lua.jsonl")
    meta = (jsonl("meta.jsonl") or [{}])[0]

    def oneshot(mode, design):
        return [r for r in one if r.get("mode") == mode and r.get("design") == design and "skipped" not in r]

    def lat_med(sc, d, key):
        return med([x.get(key) for x in lat.get((sc, d), [])])

    def arm_med(op, bg, th):
        return med(arm.get((op, bg, th), []))

    L = []
    L.append("# mockit benchmark results\n")
    L.append("Written by `make bench` (`sh bench/run.sh BUILDDIR`, raw data in "
             "`BUILDDIR/bench-out/`) from one run of %s s on the machine below. "
             "Every figure is the median of %s runs with [min–max]; ratios are "
             "design / mockit (above 1: mockit is lower)."
             % (meta.get("seconds", "?"), meta.get("runs", "?")))
    if meta.get("quick"):
        L.append("\n**BENCH_QUICK=1: tiny sizes, the figures below are not meaningful.**")
    L.append("\n## Machine\n")
    L.append("| | |\n|---|---|")
    for k, v in machine():
        L.append("| %s | %s |" % (k, v.replace("|", "/").split("  Copyright")[0]))

    # ---------------- targets
    L.append("\n## Targets: mockit and its peer, same run\n")
    L.append("| target | mockit | peer (same run) | met |\n|---|---|---|---|")

    def tgt(name, mk, peer, ok):
        L.append("| %s | %s | %s | %s |" % (name, mk, peer, "n/a" if ok is None else ("yes" if ok else "**no**")))

    for sc, label in (("idle", "idle"), ("far", "with 1M far-future timers")):
        m50, m99 = lat_med(sc, "mockit", "p50_ns"), lat_med(sc, "mockit", "p99_ns")
        f50, f99 = lat_med(sc, "sigev-thread-id", "p50_ns"), lat_med(sc, "sigev-thread-id", "p99_ns")
        c50, c99 = lat_med(sc, "cns", "p50_ns"), lat_med(sc, "cns", "p99_ns")
        ok = None
        if None not in (m50, m99, f50, f99, c50, c99):
            ok = m50 <= 1.1 * f50 and m99 <= 1.1 * f99 and m50 < c50 and m99 < c99
        farnote = ""
        if sc == "far":
            fa = lat.get((sc, "sigev-thread-id"), [{}])
            farnote = " (its %s kernel timers)" % count(med([x.get("far_armed") for x in fa]))
        tgt("10 ms interval lateness %s: p50/p99 within 10%% of the bare POSIX floor and below the clock_nanosleep thread" % label,
            "%s / %s" % (us(m50), us(m99)),
            "POSIX floor%s %s / %s; clock_nanosleep %s / %s" % (farnote, us(f50), us(f99), us(c50), us(c99)), ok)
    sp = oneshot("spread", "mockit")
    p99 = med([r.get("p99_ns") for r in sp])
    last = med([r.get("last_after_last_due_ns") for r in sp])
    n_sp = med([r.get("armed") for r in sp])
    early_sp = sum(r.get("early", 0) for r in sp)
    peer = oneshot("spread", "sigev-thread-id")
    peer_uv = oneshot("spread", "libuv")
    tgt("%s one-shots spread over 1 s: p99 < 1 ms, last callback within 1 ms of the last deadline" % count(n_sp),
        "p99 %s, last %s, early %d" % (us(p99), us(last), early_sp),
        "POSIX floor (%s timers): p99 %s, last %s; libuv: p99 %s, last %s" % (
            count(med([r.get("armed") for r in peer])), us(med([r.get("p99_ns") for r in peer])),
            us(med([r.get("last_after_last_due_ns") for r in peer])),
            us(med([r.get("p99_ns") for r in peer_uv])), us(med([r.get("last_after_last_due_ns") for r in peer_uv]))),
        None if p99 is None else (p99 < 1e6 and last is not None and last < 1e6 and early_sp == 0))
    dm = lat_med("idle", "mockit", "drift_sys_ns")
    dl = lat_med("idle", "mockit", "drift_ns")
    ticks = lat_med("idle", "mockit", "ticks")

    def drift_of(d):
        return "%s (last tick %s)" % (us(lat_med("idle", d, "drift_sys_ns")), us(lat_med("idle", d, "drift_ns")))
    tgt("drift < 100 µs after %s ticks (systematic: median grid error of the last 100 ticks minus the first 100)"
        % ("?" if ticks is None else "%d" % ticks),
        "%s (last tick %s)" % (us(dm), us(dl)),
        "POSIX floor %s; thread per timer %s; libuv %s" % (drift_of("sigev-thread-id"), drift_of("tpt"), drift_of("libuv")),
        None if dm is None else abs(dm) < 1e5)
    b = med([r.get("rss_bytes_per_timer") for r in sp])
    uvb = med([r.get("rss_bytes_per_timer") for r in peer_uv])
    uvs = med([r.get("struct_bytes") for r in peer_uv])
    kb = med([r.get("kernel_bytes_per_timer") for r in peer])
    ku = med([r.get("rss_bytes_per_timer") for r in peer])
    tgt("<= 64 B per armed timer beyond struct data (24 B)", bytesfmt(b),
        "libuv %s beyond its %s uv_timer_t; POSIX floor %s user + %s kernel" % (
            bytesfmt(uvb), bytesfmt(uvs), bytesfmt(ku), bytesfmt(kb)),
        None if b is None else b <= 64)
    ml = [r for r in one if r.get("mode") == "maxlive"]
    mk = [r for r in ml if r.get("design") == "mockit"]
    if mk:
        r = mk[0]
        peers = "; ".join("%s %s (%s)" % (x["design"], count(x.get("armed")), x.get("stop") or "cap") for x in ml if x["design"] != "mockit")
        tgt("10M live timers arm and fire", "%s armed, %s fired, %s early, %d fired before arming ended" % (
            count(r.get("armed")), count(r.get("fired")), r.get("early"), r.get("fired_during_arm", 0)), peers,
            r.get("armed", 0) >= 10_000_000 and r.get("fired") == r.get("armed") and r.get("early") == 0)
    a1 = arm_med("mockit/arm+destroy", "none", 1)
    a1f = arm_med("mockit/arm+destroy", "far", 1)
    ab = arm_med("mockit/arm+destroy", "busy", 1)
    tgt("arm+destroy < 100 ns from another thread, dispatcher idle (empty / 1M far-future armed)",
        "%s / %s" % (nsfmt(a1), nsfmt(a1f)),
        "POSIX timer create+arm+delete %s, re-arm+disarm %s; libuv start+stop on its loop thread %s" % (
            nsfmt(arm_med("posix-tid/create+arm+delete", "none", 1)), nsfmt(arm_med("posix-tid/rearm+disarm", "none", 1)),
            nsfmt(arm_med("libuv/start+stop(loop-thread)", "none", 1))),
        None if a1 is None else (a1 < 100 and (a1f is None or a1f < 100)))
    tgt("arm+destroy < 200 ns while the dispatcher fires (%s callbacks/s)" % count(bgrate.get("busy-mockit")),
        nsfmt(ab), "POSIX create+arm+delete while its sigwaitinfo thread takes %s signals/s: %s" % (
            count(bgrate.get("busy-posix")), nsfmt(arm_med("posix-tid/create+arm+delete", "busy", 1))),
        None if ab is None else ab < 200)
    bu = oneshot("burst", "mockit")
    rate = med([r.get("per_sec") for r in bu])
    tgt(">= 10M expirations/s when %s are due at once" % count(med([r.get("armed") for r in bu])),
        "%s/s" % count(rate),
        "libuv %s/s; POSIX floor %s/s; SIGEV_THREAD %s/s" % (
            count(med([r.get("per_sec") for r in oneshot("burst", "libuv")])),
            count(med([r.get("per_sec") for r in oneshot("burst", "sigev-thread-id")])),
            count(med([r.get("per_sec") for r in oneshot("burst", "sigev-thread")]))),
        None if rate is None else rate >= 1e7)
    lm = [r for r in lua if r.get("design") == "luamockit" and "skipped" not in r]
    lv = [r for r in lua if r.get("design") == "luv" and "skipped" not in r]
    if lm and lv:
        cm, cv = med([r["callbacks_per_sec"] for r in lm]), med([r["callbacks_per_sec"] for r in lv])
        bm, bv = med([r["rss_bytes_per_timer"] for r in lm]), med([r["rss_bytes_per_timer"] for r in lv])
        tgt("Lua: >= 2x luv callbacks/s through process_events", "%s/s" % count(cm), "luv %s/s (×%.2f)" % (count(cv), cm / cv), cm >= 2 * cv)
        tgt("Lua: <= 200 B per armed Lua timer (RSS)", bytesfmt(bm), "luv %s" % bytesfmt(bv), bm <= 200)
    else:
        why = [r.get("skipped") for r in lua if r.get("skipped")]
        tgt("Lua: >= 2x luv callbacks/s, <= 200 B per Lua timer", "skipped: %s" % (why[0] if why else "no data"), "", None)
    im = [r for r in idle if r.get("design") == "mockit"]
    iw = med([r.get("wakeups_per_sec") for r in im])
    tgt("0 idle wake-ups/s", "%s/s (%s library threads; %s before the first arm)" % (
        "n/a" if iw is None else "%.2f" % iw, count(med([r.get("threads") for r in im])),
        count(med([r.get("threads_before_arm") for r in im]))),
        "; ".join("%s %.2f/s" % (d, med([r.get("wakeups_per_sec") for r in idle if r.get("design") == d]))
                  for d in ("sigev-thread", "libuv") if any(r.get("design") == d for r in idle)),
        None if iw is None else iw == 0)

    # ---------------- lateness
    L.append("\n## 1. Lateness of a 10 ms interval timer\n")
    L.append("Lateness = callback time minus the due time of that call in the design's own "
             "schedule (start + k·10 ms for mockit, the POSIX timers and the clock_nanosleep "
             "threads; previous sleep + 10 ms for thread per timer; libuv's own ms-granular due). "
             "The last tick's distance from start + k·10 ms includes its own lateness; drift is "
             "the systematic part: median grid error of the last 100 ticks minus that of the "
             "first 100. All designs of one run ran "
             "at the same time, one process each, on phases 1.25 ms apart of the 10 ms grid; "
             "cyclictest beside them.\n")
    L.append("![lateness CDFs](lateness-cdf.svg)\n")
    L.append("### Nothing else armed\n")
    L.append(lateness_table(lat, "idle"))
    L.append("\n### With 1,000,000 far-future timers armed\n")
    L.append("Each design arms its own far-future timers (due in 1 h) in its own process; "
             "the kernel-timer designs stop at RLIMIT_SIGPENDING (one pending-signal slot "
             "per timer, EAGAIN beyond it), thread per timer is capped at 4096 threads.\n")
    L.append(lateness_table(lat, "far"))

    # ---------------- arm cost
    L.append("\n## 2. Arm + destroy from an application thread (Google Benchmark)\n")
    L.append("ns per arm+destroy over all threads (1e9 / items_per_second), median of %d "
             "repetitions (more than the other sections: on 2 cores the figure depends on "
             "whether the arming thread runs on the CPU of the library's threads, so its spread is wide); 4 threads on %s cores "
             "contend. Backgrounds: none; 1M far-future mockit timers; busy = 1000 interval timers "
             "of 10 ms (mockit: %s callbacks/s; POSIX: %s signals/s to the sigwaitinfo thread).\n"
             % (arm_reps(arm), os.cpu_count(), count(bgrate.get("busy-mockit")), count(bgrate.get("busy-posix"))))
    L.append("| operation | background | 1 thread | 4 threads | 1 thread / mockit |\n|---|---|---|---|---|")
    ref = {bg: arm_med("mockit/arm+destroy", bg, 1) for bg in ("none", "far", "busy")}
    ops = sorted(set((k[0], k[1]) for k in arm), key=lambda k: (k[1] != "none", not k[0].startswith("mockit"), k))
    for op, bg in ops:
        L.append("| %s | %s | %s | %s | %s |" % (
            op, bg, cell(arm.get((op, bg, 1), []), nsfmt), cell(arm.get((op, bg, 4), []), nsfmt),
            ratio(arm_med(op, bg, 1), ref.get(bg))))
    if not arm:
        L.append("| skipped (Google Benchmark not found) | | | | |")

    # ---------------- one-shots
    for mode, title in (("spread", "3. One-shots spread over 1 s"), ("burst", "4. One-shots all due at once")):
        L.append("\n## %s\n" % title)
        if mode == "spread":
            L.append("Armed in random order, due times spread evenly over 1 s. Bytes per timer: RSS "
                     "delta while armed, the caller's structs excluded (their size is the next "
                     "column); kernel: system-wide Slab + KernelStack + PageTables delta (noisy: "
                     "other processes share the machine). Callbacks do one clock_gettime, a store "
                     "and an atomic increment (%s).\n" % nsfmt(med([r.get("cb_body_ns") for r in one])))
            L.append("| design | timers | arm per timer | user bytes / timer | caller struct | kernel bytes / timer | p50 | p99 | max | last callback after last deadline | early | missing |")
            L.append("|---|---|---|---|---|---|---|---|---|---|---|---|")
        else:
            L.append("All due at one instant (within 1 ms for the ms-relative APIs). Rate = callbacks / "
                     "(last callback - first callback).\n")
            L.append("| design | timers | expirations / s | rate / mockit | due → last callback | p50 | p99 | early | missing |")
            L.append("|---|---|---|---|---|---|---|---|---|")
        refrate = med([r.get("per_sec") for r in oneshot("burst", "mockit")])
        for d in ["mockit", "libuv", "sigev-thread-id", "sigev-thread", "tpt"]:
            rs = oneshot(mode, d)
            if not rs:
                continue
            n = count(med([r.get("armed") for r in rs]))
            stop = rs[0].get("stop")
            if stop and "RLIMIT" in stop:
                n += " (%s)" % stop
            if mode == "spread":
                L.append("| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %d | %d |" % (
                    NAMES[d], n, cell([r.get("arm_ns_per_timer") for r in rs], nsfmt),
                    cell([r.get("rss_bytes_per_timer") for r in rs], bytesfmt),
                    bytesfmt(rs[0].get("struct_bytes")),
                    cell([r.get("kernel_bytes_per_timer") for r in rs], bytesfmt),
                    cell([r.get("p50_ns") for r in rs], us), cell([r.get("p99_ns") for r in rs], us),
                    cell([r.get("max_ns") for r in rs], us), cell([r.get("last_after_last_due_ns") for r in rs], us),
                    sum(r.get("early", 0) for r in rs), sum(r.get("missing", 0) for r in rs)))
            else:
                L.append("| %s | %s | %s | %s | %s | %s | %s | %d | %d |" % (
                    NAMES[d], n, cell([r.get("per_sec") for r in rs], count),
                    ratio(med([r.get("per_sec") for r in rs]), refrate),
                    cell([r.get("last_after_last_due_ns") for r in rs], us),
                    cell([r.get("p50_ns") for r in rs], us), cell([r.get("p99_ns") for r in rs], us),
                    sum(r.get("early", 0) for r in rs), sum(r.get("missing", 0) for r in rs)))

    # ---------------- max live
    L.append("\n## 5. The largest number of live timers\n")
    L.append("Arm until an error or the cap (10M for mockit and libuv). mockit's are all due at "
             "one instant after the arming and must all fire (rate in the last column); the others "
             "are far-future and are not fired. Once per `make bench`.\n")
    L.append("| design | live timers reached | stopped by | arm time | user bytes / timer | kernel bytes / timer | fired | early | fired before arming ended | due → last callback | expirations / s |")
    L.append("|---|---|---|---|---|---|---|---|---|---|---|")
    for d in ["mockit", "libuv", "sigev-thread-id", "sigev-thread", "tpt"]:
        for r in [x for x in ml if x.get("design") == d]:
            L.append("| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |" % (
                NAMES[d], "{:,}".format(r.get("armed", 0)), r.get("stop") or "cap (%s)" % count(r.get("n_req")),
                us((r.get("arm_total_ms") or 0) * 1e6), bytesfmt(r.get("rss_bytes_per_timer")),
                bytesfmt(r.get("kernel_bytes_per_timer")),
                "{:,}".format(r["fired"]) if "fired" in r else "—", r.get("early", "—"),
                r.get("fired_during_arm", "—") if "fired" in r else "—",
                us(r.get("last_after_last_due_ns")) if "fired" in r else "—",
                count(r.get("per_sec")) if "fired" in r else "—"))

    # ---------------- Lua
    L.append("\n## 6. Lua: luamockit and luv (Lua 5.4)\n")
    if lm or lv:
        L.append("%s one-shot timers all due at once; the returned objects dropped (both modules keep "
                 "armed timers alive). Callbacks/s: luamockit's `process_events()` over the queued "
                 "expirations, luv's `uv.run()`. Bytes: RSS delta after a full collection (Lua heap "
                 "part separately).\n" % count(med([r.get("n") for r in lm + lv])))
        L.append("| module | callbacks / s | / luamockit | bytes per armed timer (RSS) | of which Lua heap | arm per timer |")
        L.append("|---|---|---|---|---|---|")
        refc = med([r["callbacks_per_sec"] for r in lm]) if lm else None
        for name, rs in (("luamockit", lm), ("luv", lv)):
            if rs:
                L.append("| %s | %s | %s | %s | %s | %s |" % (
                    name, cell([r["callbacks_per_sec"] for r in rs], count),
                    ratio(med([r["callbacks_per_sec"] for r in rs]), refc),
                    cell([r["rss_bytes_per_timer"] for r in rs], bytesfmt),
                    cell([r["lua_heap_bytes_per_timer"] for r in rs], bytesfmt),
                    cell([r["arm_ns_per_timer"] for r in rs], nsfmt)))
    for r in lua:
        if r.get("skipped"):
            L.append("\n%s skipped: %s" % (r.get("design"), r["skipped"]))
    extra = read("lua_vs_luv.txt")
    if extra:
        L.append("\nOutput of bench/lua/lua_vs_luv.lua (the Lua helper's script):\n\n```\n%s\n```" % extra[:4000])

    # ---------------- idle
    L.append("\n## 7. Idle wake-ups\n")
    L.append("Context switches (voluntary + nonvoluntary, /proc/self/task/*/status) of the library's "
             "threads over %s s with no timer armed, after timers were armed, fired and destroyed "
             "(mockit: threads named mockit-*; peers: every thread but main).\n"
             % ("%.1f" % med([r.get("seconds") for r in idle]) if idle else "?"))
    L.append("| design | library threads | wake-ups / s | threads before the first arm |\n|---|---|---|---|")
    for d in ("mockit", "sigev-thread", "libuv"):
        rs = [r for r in idle if r.get("design") == d and "skipped" not in r]
        if rs:
            L.append("| %s | %s | %s | %s |" % (
                NAMES[d], count(med([r.get("threads") for r in rs])),
                cell([r.get("wakeups_per_sec") for r in rs], lambda v: "%.2f" % v),
                count(med([r.get("threads_before_arm") for r in rs])) if d == "mockit" else "—"))

    L.append("\n## Method notes\n")
    L.append("- Programs: `bench/lateness.cpp`, `bench/oneshots.cpp`, `bench/armcost.cpp` (Google "
             "Benchmark), `bench/idle.cpp`, `bench/lua/lua_bench.lua`; thread per timer is "
             "`bench/tpt.hpp` (detached thread, relative `nanosleep` loop, destroy = "
             "`pthread_cancel`). Raw output: `BUILDDIR/bench-out/`.\n"
             "- mockit's grid is counted from a clock reading taken just before `Mockit_getit` "
             "(the library reads its own at the entry of the call, so the two agree within tens "
             "of ns); a bias could only overstate mockit's lateness.\n"
             "- Kernel POSIX timers are charged to the user's RLIMIT_SIGPENDING count, shared by "
             "all that user's processes; run as root, each kernel-timer peer moves to a user of "
             "its own first (uid 60000+) so it neither starves nor is starved by other processes. "
             "The limit cannot be raised here (no CAP_SYS_RESOURCE).\n"
             "- Thread per timer and SIGEV_THREAD are capped (10k one-shots each; 4096 far "
             "threads; max-live stops 4096 threads short of pid_max) so the machine survives.\n"
             "- A 1-minute load average in the hundreds during the one-shot phase is the "
             "thread-per-timer burst itself (10,000 threads runnable at one instant), not other work.\n"
             "- The machine is shared (other jobs may run): min–max shows the spread between runs; "
             "the load average at each phase is in `BUILDDIR/bench-out/progress.txt`:\n\n```\n%s\n```" % read("progress.txt"))
    with open(RESULTS, "w") as fh:
        fh.write("\n".join(L) + "\n")


main()
