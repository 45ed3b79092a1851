#!/usr/bin/python3
"""Run lamina's benchmarks against the PyTorch peers and write docs/benchmarks.md.

    python3 bench/run.py                       # build, 5 rounds, 1 and 2 threads
    python3 bench/run.py --rounds 3 --threads 2
    python3 bench/run.py --install-peers       # apt-get install python3-torch if missing

For every workload (mlp, sepconv, cnn, resnet, yolo_tiny_fwd, lstm; --workloads picks) and
thread count, lamina's bench binary (build-bench/bench_<workload>) and the peer script
(shared/bench/peers/<workload>.py, run with Debian's /usr/bin/python3) are run alternately,
--rounds times each, with the same flags (a workload may shorten the timed windows for both).
Peer configs: 1 thread: "--threads 1" (and "--channels-last" for the conv nets, t1_cl); N > 1
threads: "--threads N" and "--threads N --blas-threads 1" (+ "--channels-last" for the conv
nets: the peers' t2_tuned); the fastest median is the peer's number. yolo_tiny_fwd is a
latency (lower is better; PyTorch's better of eager and jit-frozen counts), and its ratio is
PyTorch ms / lamina ms, so above 1 means lamina is faster everywhere.

Shared-host hygiene as in shared/bench/peers/run_all.sh: before each run wait (up to
--idle-wait s) for the machine to be idle; a run whose other_cpu_pct (CPU used by other
processes during its timed part, % of one core) is above --max-other is repeated up to
--retries times, and the cleanest attempt is kept.

Outputs: bench/results/<date>-<workload>.jsonl (every attempt, one JSON line each, with
"accepted" marking the ones used and "run_id" naming the run; earlier runs of the same day
are kept) and docs/benchmarks.md. Peak memory is each benchmark
process' maximum RSS, measured the same way for both (GNU time's %M; see run_child). The
"where the time goes" section comes from one extra lamina run per thread count with
LAMINA_PROFILE=1.

Only the Python standard library is used.
"""
import argparse
import datetime
import json
import os
import re
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PEER_PY = "/usr/bin/python3"

# workload -> how to run and read it
WORKLOADS = {
    "mlp": {
        "title": "mlp: Input(64) → Dense(32, relu) → Dense(32, relu) → Dense(10, softmax), "
                 "batch 128, RMSprop, categorical crossentropy (training)",
        "bench": "bench_mlp",
        "peer": "mlp.py",
        "metric": "train_samples_per_sec",
        "unit": "samples/s",
    },
    "sepconv": {  # [issue 4] bench/sepconv.c
        "title": "sepconv: Input(64, 64, 3) → 6 × SeparableConv2D (relu) with 2 MaxPooling2D → "
                 "GlobalAveragePooling2D → Dense(32, relu) → Dense(10, softmax), batch 32, "
                 "RMSprop, categorical crossentropy (training)",
        "bench": "bench_sepconv",
        "peer": "sepconv.py",
        "metric": "train_samples_per_sec",
        "unit": "samples/s",

        "channels_last": True,
        # half the peer's default steps per window (20): same shapes, a quicker run
        "args": ["--steps", "10", "--repeats", "3"],
    },
    "cnn": {  # [issue 4] bench/cnn.c
        "title": "cnn: Input(28, 28, 1) → Conv2D(32, 3, relu) → MaxPooling2D → Conv2D(64, 3, relu) → "
                 "MaxPooling2D → Flatten → Dense(128, relu) → Dense(10, softmax), batch 64, Adam, "
                 "categorical crossentropy (training)",
        "bench": "bench_cnn",
        "peer": "cnn.py",
        "metric": "train_samples_per_sec",
        "unit": "samples/s",
        "channels_last": True,
    },
    "resnet": {  # [issue 4] bench/resnet.c
        "title": "resnet: Input(32, 32, 3) → Conv2D(64, 3, same) → 4 × [Conv2D(64, 3, same, relu) → "
                 "BatchNormalization → Conv2D(64, 3, same) → BatchNormalization → add → relu] → "
                 "GlobalAveragePooling2D → Dense(10), batch 32, SGD(0.01, momentum 0.9), "
                 "softmax crossentropy (training)",
        "bench": "bench_resnet",
        "peer": "resnet.py",
        "metric": "train_samples_per_sec",
        "unit": "samples/s",
        "channels_last": True,
        # the peer's 3 windows of 8 steps after 5 warmup take ~20 s per run at 1 thread;
        # 3 windows of 4 steps after 2 warmup steps measure the same thing in half the time
        "args": ["--steps", "4", "--repeats", "3", "--warmup", "2"],
    },
    "yolo_tiny_fwd": {  # [issue 4] bench/yolo_tiny_fwd.c
        "title": "yolo_tiny_fwd: YOLOv2-tiny-like backbone on 416×416×3, 9 convolutions "
                 "(BatchNormalization + LeakyReLU(0.1)) and 6 max-pools, batch-1 inference latency",
        "bench": "bench_yolo_tiny_fwd",
        "peer": "yolo_tiny_fwd.py",
        # PyTorch reports an eager and a jit-frozen (BN-folded) latency: its better one counts;
        # lamina has one inference path (lm_model_predict), reported under both keys
        "metric": "best_median_ms",
        "derive": lambda r: min(r["eager_median_ms"], r["frozen_median_ms"]),
        "unit": "ms",
        "lower_is_better": True,
        "channels_last": True,
    },
    "lstm": {  # [issue 5] bench/lstm.c
        "title": "lstm: Input((100,), int32) → Embedding(10000, 64) → LSTM(32) → "
                 "Dense(1, sigmoid), batch 128, RMSprop, binary crossentropy (training)",
        "bench": "bench_lstm",
        "peer": "lstm.py",
        "metric": "train_samples_per_sec",
        "unit": "samples/s",
    },
}


def log(msg):
    print(msg, file=sys.stderr, flush=True)


# ---- machine state -------------------------------------------------------------------

def busy_jiffies():
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:9]]
    return v[0] + v[1] + v[2] + v[5] + v[6] + v[7], sum(v)


def busy_cores(interval=1.0):
    """CPU used by everything on the machine over `interval` s, in cores."""
    hz = os.sysconf("SC_CLK_TCK")
    b0, _ = busy_jiffies()
    time.sleep(interval)
    b1, _ = busy_jiffies()
    return (b1 - b0) / hz / interval


WAIT_BUDGET = {"left": float("inf")}  # --max-wait-total: idle waiting over the whole run


def wait_idle(limit_s, threshold=0.10):
    """Wait until the machine uses < threshold cores for one second (at most limit_s, and
    at most what is left of the total waiting budget); returns seconds waited."""
    t0 = time.time()
    limit_s = min(limit_s, WAIT_BUDGET["left"])
    try:
        while True:
            used = busy_cores()
            if used < threshold:
                return time.time() - t0
            if time.time() - t0 >= limit_s:
                log(f"  (machine still busy after {time.time() - t0:.0f} s: {used:.2f} cores used "
                    "by others; running anyway)")
                return time.time() - t0
    finally:
        WAIT_BUDGET["left"] = max(0.0, WAIT_BUDGET["left"] - (time.time() - t0))


def machine_info():
    info = {"model": "?", "cpus": os.cpu_count(), "cores_per_socket": None, "sockets": None,
            "threads_per_core": None, "caches": ""}
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout
        kv = {}
        for line in out.splitlines():
            if ":" in line:
                k, v = line.split(":", 1)
                kv[k.strip()] = v.strip()
        info["model"] = kv.get("Model name", "?")
        info["cores_per_socket"] = kv.get("Core(s) per socket")
        info["sockets"] = kv.get("Socket(s)")
        info["threads_per_core"] = kv.get("Thread(s) per core")
        info["caches"] = ", ".join(f"{k} {kv[k]}" for k in ("L1d cache", "L2 cache", "L3 cache")
                                   if k in kv)
        info["flags_avx"] = [f for f in ("avx2", "fma", "avx512f") if f in kv.get("Flags", "").split()]
    except (OSError, subprocess.CalledProcessError):
        pass
    try:
        with open("/proc/meminfo") as f:
            info["mem_gib"] = round(int(f.readline().split()[1]) / 2**20, 1)
    except OSError:
        pass
    return info


# ---- running one benchmark process ---------------------------------------------------

GNU_TIME = "/usr/bin/time" if os.access("/usr/bin/time", os.X_OK) else None


def run_child(cmd, env=None, timeout=600):
    """Run cmd; return (rc, stdout, stderr, peak_rss_mb of that child, wall_s).

    Peak RSS: a child forked from this Python process starts with Python's resident pages
    mapped, and Linux carries that high-water mark across exec into ru_maxrss (~16 MB here,
    more than lamina's whole footprint). So the command runs under GNU time when available:
    its own fork comes from a small fresh process. Otherwise os.wait4's ru_maxrss (an
    overestimate by about this script's RSS)."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err, \
            tempfile.NamedTemporaryFile("r", suffix=".rss") as rssf:
        full = [GNU_TIME, "-f", "%M", "-o", rssf.name] + cmd if GNU_TIME else cmd
        t0 = time.time()
        p = subprocess.Popen(full, stdout=out, stderr=err, env=env)
        timer = threading.Timer(timeout, p.kill)
        timer.start()
        try:
            _, status, ru = os.wait4(p.pid, 0)  # the child's own rusage (ru_maxrss in KiB)
        finally:
            timer.cancel()
        p.returncode = os.waitstatus_to_exitcode(status)
        wall = time.time() - t0
        rss_kb = ru.ru_maxrss
        if GNU_TIME:
            try:
                rss_kb = int(rssf.read().strip().splitlines()[-1])
            except (ValueError, IndexError):
                pass
        out.seek(0)
        err.seek(0)
        return (p.returncode, out.read().decode(errors="replace"),
                err.read().decode(errors="replace"), rss_kb / 1024.0, wall)


def json_line(stdout):
    """The result: the only stdout line starting with '{'."""
    lines = [l for l in stdout.splitlines() if l.startswith("{")]
    if len(lines) != 1:
        raise ValueError(f"expected one JSON line, found {len(lines)}")
    return json.loads(lines[0])


def run_measured(cmd, meta, args, env=None, derive=None):
    """Run cmd until other_cpu_pct <= max_other (at most 1 + retries attempts).
    Returns (kept record, all attempt records)."""
    attempts = []
    for attempt in range(1 + args.retries):
        wait_idle(args.idle_wait)
        rc, out, err, rss, wall = run_child(cmd, env=env)
        if rc != 0:
            raise RuntimeError(f"{shlex.join(cmd)} failed (rc {rc}):\n{err.strip()[-2000:]}")
        rec = json_line(out)
        if derive:
            rec[meta["metric"]] = derive(rec)
        rec.update(meta)
        rec["child_peak_rss_mb"] = round(rss, 1)
        rec["attempt"] = attempt
        rec["cmd"] = shlex.join(cmd)
        attempts.append(rec)
        other = rec.get("other_cpu_pct")
        log(f"    {meta['label']:<16} {rec[meta['metric']]:>12,.0f} {meta['unit']}  "
            f"other_cpu {other}%  rss {rss:.0f} MB" + ("" if attempt == 0 else f"  (retry {attempt})"))
        if other is not None and other <= args.max_other:
            break
    kept = min(attempts, key=lambda r: r.get("other_cpu_pct") or 0.0)
    for r in attempts:
        r["accepted"] = r is kept
    return kept, attempts


# ---- the profile ---------------------------------------------------------------------

PROF_HEAD = re.compile(r"^lamina profile: (\d+) steps, ([0-9.]+) ms per step")
PROF_ROW = re.compile(r"^(\d+)\s+(\S+)\s+(\S+)\s+([0-9.]+)\s+([0-9.]+)\s+([0-9.]+)%")


def profile_run(binary, threads, idle_wait, extra=()):
    env = dict(os.environ, LAMINA_PROFILE="1")
    wait_idle(idle_wait)
    rc, out, err, rss, _ = run_child([binary, "--threads", str(threads)] + list(extra), env=env)
    if rc != 0:
        raise RuntimeError(f"profile run failed: {err.strip()[-2000:]}")
    rec = json_line(out)
    table = [l for l in out.splitlines() if not l.startswith("{") and l.strip()]
    steps = ms = None
    rows = []
    for l in table:
        m = PROF_HEAD.match(l)
        if m:
            steps, ms = int(m.group(1)), float(m.group(2))
            continue
        m = PROF_ROW.match(l)
        if m:
            rows.append({"node": int(m.group(1)), "op": m.group(2), "layer": m.group(3),
                         "fwd_us": float(m.group(4)), "bwd_us": float(m.group(5))})
    return {"threads": threads, "record": rec, "table": table, "steps": steps,
            "op_ms": ms, "rows": rows}


# ---- report --------------------------------------------------------------------------

def fmt_num(x):
    if x is None:
        return "–"
    return f"{x:,.0f}" if abs(x) >= 100 else f"{x:.1f}"


def med(records, key):
    vals = [r[key] for r in records if r.get(key) is not None]
    return statistics.median(vals) if vals else None


def summarize(workload, t, kept):
    """kept: {label: [records]} for one (workload, threads). Returns a table row dict."""
    spec = WORKLOADS[workload]
    metric = spec["metric"]
    lam = kept.get("lamina", [])
    peers = {k: v for k, v in kept.items() if k != "lamina"}
    peer_meds = {k: med(v, metric) for k, v in peers.items()}
    lower = spec.get("lower_is_better", False)
    if lower:
        best_label = (min(peer_meds, key=lambda k: peer_meds[k] or float("inf"))
                      if peer_meds else None)
    else:
        best_label = max(peer_meds, key=lambda k: peer_meds[k] or 0) if peer_meds else None
    lam_med = med(lam, metric)
    peer_med = peer_meds.get(best_label) if best_label else None
    allrecs = [r for v in kept.values() for r in v]
    return {
        "threads": t,
        "lamina": lam_med,
        "lamina_range": (min(r[metric] for r in lam), max(r[metric] for r in lam)) if lam else None,
        "peer": peer_med,
        "peer_label": best_label,
        "peer_meds": peer_meds,
        "peer_range": ((min(r[metric] for r in peers[best_label]),
                        max(r[metric] for r in peers[best_label])) if best_label else None),
        # lamina's speed over PyTorch's: > 1 means lamina is faster
        "ratio": ((peer_med / lam_med if lower else lam_med / peer_med)
                  if lam_med and peer_med else None),
        "lamina_rss": max((r["child_peak_rss_mb"] for r in lam), default=None),
        "peer_rss": max((r["child_peak_rss_mb"] for r in peers.get(best_label, [])), default=None),
        "other_max": max((r.get("other_cpu_pct") or 0.0 for r in allrecs), default=None),
        "n_lamina": len(lam),
        "n_peer": len(peers.get(best_label, [])),
        "lamina_step_ms": med(lam, "train_step_ms"),
        "peer_step_ms": med(peers.get(best_label, []), "train_step_ms"),
    }


def profile_section(prof, lamina_step_ms):
    """Markdown lines for one profile run."""
    t = prof["threads"]
    rec = prof["record"]
    lines = []
    step_ms = rec.get("train_step_ms")
    if step_ms is None and rec.get("batch") and rec.get("train_samples_per_sec"):
        step_ms = 1e3 * rec["batch"] / rec["train_samples_per_sec"]
    op_ms = prof["op_ms"]
    if step_ms is None and rec.get("median_ms") is not None:  # inference-only workloads
        step_ms = rec["median_ms"]
        lines.append(f"**{t} thread{'s' if t > 1 else ''}** (profiled run: {step_ms:.2f} ms median "
                     "per inference; the timers themselves add a little).")
    else:
        step_txt = (f"{step_ms:.4f} ms per training step" if step_ms is not None
                    else "step time not reported")
        lines.append(f"**{t} thread{'s' if t > 1 else ''}** (profiled run: "
                     f"{fmt_num(rec.get('train_samples_per_sec'))} samples/s, {step_txt}; the timers "
                     "themselves add a little).")
    lines.append("")
    if op_ms is None or not prof["rows"] or step_ms is None:
        lines.append("The library printed no profile table (LAMINA_PROFILE not supported by this build?).")
        lines.append("")
        return lines
    by_op = {}
    for r in prof["rows"]:
        a = by_op.setdefault(r["op"], [0.0, 0.0, 0])
        a[0] += r["fwd_us"]
        a[1] += r["bwd_us"]
        a[2] += 1
    step_us = 1e3 * step_ms
    outside_us = step_us - 1e3 * op_ms
    lines.append("| op | nodes | fwd µs/step | bwd µs/step | share of the step |")
    lines.append("|---|---:|---:|---:|---:|")
    for op, (f, b, n) in sorted(by_op.items(), key=lambda kv: -(kv[1][0] + kv[1][1])):
        lines.append(f"| {op} | {n} | {f:.2f} | {b:.2f} | {100 * (f + b) / step_us:.1f}% |")
    lines.append(f"| *all graph ops* | {len(prof['rows'])} | "
                 f"{sum(v[0] for v in by_op.values()):.2f} | {sum(v[1] for v in by_op.values()):.2f} | "
                 f"{100 * 1e3 * op_ms / step_us:.1f}% |")
    lines.append(f"| *outside the ops* (input checks and copies, gradient zeroing, optimizer, "
                 f"call overhead) | | | | {100 * outside_us / step_us:.1f}% ({outside_us:.1f} µs) |")
    lines.append("")
    lines.append("<details><summary>raw per-node table</summary>")
    lines.append("")
    lines.append("```")
    lines.extend(prof["table"])
    lines.append("```")
    lines.append("</details>")
    lines.append("")
    return lines


def write_report(path, args, date, machine, summaries, profiles, versions, results_files, started,
                 finished, command, references):
    L = []
    L.append("# Benchmarks: lamina vs PyTorch (CPU)")
    L.append("")
    L.append(f"Generated by `bench/run.py` on **{date}** ({started} – {finished} UTC).")
    L.append("")
    disturbed = [(w, s["threads"]) for w, rows in summaries.items() for s in rows
                 if s["other_max"] is not None and s["other_max"] > args.max_other]
    if disturbed:
        L.append(f"> **Warning: the host was busy.** Some kept runs had `other_cpu_pct` above "
                 f"{args.max_other} (other processes used CPU during the timed part) even after "
                 f"{args.retries} retries: " + ", ".join(f"{w} at {t} thread(s)" for w, t in disturbed)
                 + ". Such numbers are not comparable with the clean baselines in "
                 "`shared/reference/perf-baselines.md`; multi-threaded PyTorch suffers most from "
                 "contention (its OpenMP/OpenBLAS threads wait on each other), which inflates the "
                 "ratio. Rerun on a quiet machine.")
        L.append("")
    L.append("## Setup")
    L.append("")
    cores = machine.get("cores_per_socket")
    socks = machine.get("sockets")
    L.append(f"* Machine: **{machine['model']}**, {machine['cpus']} CPUs "
             f"({socks} socket × {cores} cores, {machine.get('threads_per_core')} thread/core)"
             + (f", {machine['caches']}" if machine.get("caches") else "")
             + (f", {machine['mem_gib']} GiB RAM" if machine.get("mem_gib") else "")
             + (f", ISA flags: {', '.join(machine.get('flags_avx', []))}" if machine.get("flags_avx") else "")
             + ".")
    for k, v in versions.items():
        L.append(f"* {k}: {v}")
    L.append(f"* Command: `{command}`")
    L.append(f"* Each cell is the **median over {args.rounds} round{'s' if args.rounds != 1 else ''}**; lamina and PyTorch runs alternate "
             "within each round, with the same flags (the `cmd` of each record in the raw JSON lines). "
             "Every run itself reports the median of its timed windows (training) or calls "
             "(inference), so a cell is a median of medians.")
    L.append(f"* Runs whose `other_cpu_pct` (CPU used by other processes during the timed part, % of "
             f"one core) exceeded {args.max_other} were repeated up to {args.retries} times; the "
             "cleanest attempt was kept. The column shows the worst kept value.")
    L.append("* Peak memory: maximum resident set size of each benchmark process, measured the same way "
             "for both (" + ("GNU `time -f %M`" if GNU_TIME else "`ru_maxrss` from `os.wait4`, which "
             "also counts the RSS of the forking Python process") + "). The PyTorch figure includes "
             "the Python interpreter and the torch libraries.")
    L.append("* PyTorch at N > 1 threads runs both `--threads N` (torch + OpenBLAS N threads) and "
             "`--threads N --blas-threads 1` (the peers' `t2_tuned`, with `--channels-last` for the "
             "conv nets); at 1 thread the conv nets also run `--channels-last` (`t1_cl`). The fastest "
             "median is reported. For latencies (ms) lower is better, and the ratio column is "
             "PyTorch ms / lamina ms, so above 1 always means lamina is faster.")
    L.append("* Raw JSON lines (every attempt): " + ", ".join(f"`{f}`" for f in results_files))
    L.append("")
    for w, rows in summaries.items():
        spec = WORKLOADS[w]
        L.append(f"## {spec['title']}")
        L.append("")
        L.append(f"| threads | lamina median {spec['unit']} [range] | PyTorch median {spec['unit']} [range] (config) "
                 f"| {'PyTorch ms / lamina ms' if spec.get('lower_is_better') else 'lamina / PyTorch'} | lamina ms/step | PyTorch ms/step | peak RSS lamina | peak RSS PyTorch "
                 "| other_cpu_pct max |")
        L.append("|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
        for s in rows:
            lr, pr = s["lamina_range"], s["peer_range"]
            cells = [str(s["threads"]),
                     f"**{fmt_num(s['lamina'])}** [{fmt_num(lr[0])}–{fmt_num(lr[1])}]" if lr else "–",
                     (f"**{fmt_num(s['peer'])}** [{fmt_num(pr[0])}–{fmt_num(pr[1])}] ({s['peer_label']})"
                      if pr else "–"),
                     f"**{s['ratio']:.2f}×**" if s["ratio"] else "–",
                     f"{s['lamina_step_ms']:.4f}" if s["lamina_step_ms"] else "–",
                     f"{s['peer_step_ms']:.4f}" if s["peer_step_ms"] else "–",
                     f"{s['lamina_rss']:.1f} MB" if s["lamina_rss"] is not None else "–",
                     f"{s['peer_rss']:.1f} MB" if s["peer_rss"] is not None else "–",
                     f"{s['other_max']:.1f}" if s["other_max"] is not None else "–"]
            L.append("| " + " | ".join(cells) + " |")
        L.append("")
        ref = references.get(w) or {}
        metric = spec["metric"]
        if ref:
            parts = []
            for s in rows:
                t = s["threads"]
                cands = {k: r[metric] for k, r in ref.items() if r.get("threads") == t and metric in r}
                if "derive" in spec:
                    cands = {k: spec["derive"](r) for k, r in ref.items() if r.get("threads") == t}
                if cands and s["lamina"]:
                    if spec.get("lower_is_better"):
                        k = min(cands, key=cands.get)
                        speed = cands[k] / s["lamina"]
                    else:
                        k = max(cands, key=cands.get)
                        speed = s["lamina"] / cands[k]
                    parts.append(f"{t} thread{'s' if t > 1 else ''}: `{k}` {fmt_num(cands[k])} "
                                 f"(lamina's speed / that = {speed:.2f}×)")
            if parts:
                L.append("PyTorch reference numbers from a quiet host (`shared/bench/peers/results/"
                         f"{w}.json`, best config per thread count): " + "; ".join(parts) + ".")
                L.append("")
        by_t = {s["threads"]: s for s in rows}
        if 1 in by_t and len(by_t) > 1:
            base = by_t[1]
            parts = []
            for t, s in sorted(by_t.items()):
                if t == 1 or not (s["lamina"] and base["lamina"]):
                    continue
                def gain(new, old):
                    return old / new if spec.get("lower_is_better") else new / old
                txt = f"lamina {gain(s['lamina'], base['lamina']):.2f}×"
                if s["peer"] and base["peer"]:
                    txt += f", PyTorch {gain(s['peer'], base['peer']):.2f}×"
                parts.append(f"{t} threads vs 1: {txt}")
            if parts:
                L.append("Thread scaling (median throughput): " + "; ".join(parts) + ".")
                L.append("")
        multi = [s for s in rows if len(s["peer_meds"]) > 1]
        for s in multi:
            parts = ", ".join(f"`{k}` {fmt_num(v)}" for k, v in s["peer_meds"].items())
            L.append(f"PyTorch configs at {s['threads']} threads (median {spec['unit']}): {parts}.")
        if multi:
            L.append("")
        if w in profiles:
            L.append(f"### Where the time goes (lamina, `LAMINA_PROFILE=1`)")
            L.append("")
            L.append("Per-op wall time per training step (per inference for inference-only "
                     "workloads) from the library's profiler (summed over "
                     "the graph nodes of each op kind), against the whole `lm_model_train_on_batch` "
                     "call. \"Outside the ops\" is everything the profiler does not time: feeding "
                     "(shape and NaN/Inf checks, copying the batch into the graph), zeroing the "
                     "gradients, the optimizer update and call overhead.")
            L.append("")
            step_ms = {s["threads"]: s["lamina_step_ms"] for s in rows}
            for prof in profiles[w]:
                L.extend(profile_section(prof, step_ms.get(prof["threads"])))
    with open(path, "w") as f:
        f.write("\n".join(L).rstrip() + "\n")


# ---- main ------------------------------------------------------------------------------

def ensure_torch(install):
    ok = subprocess.run([PEER_PY, "-c", "import torch"], capture_output=True).returncode == 0
    if ok or not install:
        return ok
    cmd = ["apt-get", "install", "-y", "python3-torch"]
    if os.geteuid() != 0:
        cmd = ["sudo"] + cmd
    log("installing python3-torch: " + " ".join(cmd))
    subprocess.run(cmd, check=False, env=dict(os.environ, DEBIAN_FRONTEND="noninteractive"))
    return subprocess.run([PEER_PY, "-c", "import torch"], capture_output=True).returncode == 0


def build(build_dir, targets):
    subprocess.run(["cmake", "-S", ROOT, "-B", build_dir, "-DCMAKE_BUILD_TYPE=Release"],
                   check=True, stdout=subprocess.DEVNULL)
    subprocess.run(["cmake", "--build", build_dir, "-j2", "--target"] + targets, check=True,
                   stdout=subprocess.DEVNULL)


def blas_of(binary):
    try:
        out = subprocess.run(["ldd", binary], capture_output=True, text=True).stdout
    except OSError:
        return "?"
    for line in out.splitlines():
        if "blas" in line and "=>" in line:
            return line.split("=>")[1].split("(")[0].strip()
    return "none (portable gemm)"


def lib_cflags(build_dir):
    """The C flags CMake used for the library objects."""
    try:
        with open(os.path.join(build_dir, "CMakeFiles", "lamina_obj.dir", "flags.make")) as f:
            for line in f:
                if line.startswith("C_FLAGS"):
                    return line.split("=", 1)[1].strip()
    except OSError:
        pass
    return "?"


def peer_reference(peers_dir, workload):
    """The peers' committed results (results/<workload>.json, from a quiet host): {config: rec}."""
    out = {}
    try:
        with open(os.path.join(peers_dir, "results", f"{workload}.json")) as f:
            for line in f:
                if line.startswith("{"):
                    rec = json.loads(line)
                    out[rec.get("config", "?")] = rec
    except (OSError, ValueError):
        pass
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=5, help="runs of each config (default 5)")
    ap.add_argument("--threads", default="1,2", help="thread counts, comma-separated (default 1,2)")
    ap.add_argument("--workloads", default=",".join(WORKLOADS), help="comma-separated (default: all)")
    ap.add_argument("--build-dir", default=os.path.join(ROOT, "build-bench"))
    ap.add_argument("--no-build", action="store_true", help="use the binaries already in --build-dir")
    ap.add_argument("--peers-dir", default=os.environ.get(
        "LAMINA_PEERS", os.path.join(os.path.dirname(ROOT), "shared", "bench", "peers")))
    ap.add_argument("--install-peers", action="store_true",
                    help="apt-get install python3-torch if torch is missing")
    ap.add_argument("--max-other", type=float, default=5.0,
                    help="rerun a run whose other_cpu_pct is above this (default 5)")
    ap.add_argument("--retries", type=int, default=3, help="reruns of a disturbed run (default 3)")
    ap.add_argument("--idle-wait", type=float, default=300,
                    help="seconds to wait for an idle machine before each run (default 300)")
    ap.add_argument("--max-wait-total", type=float, default=1800,
                    help="total seconds of idle waiting over the whole run (default 1800); "
                         "after that runs start at once, and disturbed ones are only retried")
    ap.add_argument("--no-profile", action="store_true", help="skip the LAMINA_PROFILE=1 runs")
    ap.add_argument("--out", default=os.path.join(ROOT, "docs", "benchmarks.md"))
    ap.add_argument("--results-dir", default=os.path.join(ROOT, "bench", "results"))
    args = ap.parse_args()
    WAIT_BUDGET["left"] = args.max_wait_total
    threads = [int(t) for t in args.threads.split(",") if t]
    workloads = [w for w in args.workloads.split(",") if w]
    for w in workloads:
        if w not in WORKLOADS:
            ap.error(f"unknown workload {w} (known: {', '.join(WORKLOADS)})")
    command = "python3 bench/run.py " + shlex.join(sys.argv[1:]) if sys.argv[1:] else "python3 bench/run.py"
    started = datetime.datetime.now(datetime.timezone.utc)
    date = started.strftime("%Y-%m-%d")
    run_id = started.strftime("%Y-%m-%dT%H:%M:%SZ")

    if not args.no_build:
        log(f"building in {args.build_dir}")
        build(args.build_dir, [WORKLOADS[w]["bench"] for w in workloads])
    have_torch = ensure_torch(args.install_peers)
    if not have_torch:
        log("PyTorch (python3-torch) is not installed: peers skipped (use --install-peers)")
    torch_version = None

    os.makedirs(args.results_dir, exist_ok=True)
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    summaries, profiles, results_files = {}, {}, []
    versions = {}
    for w in workloads:
        spec = WORKLOADS[w]
        binary = os.path.join(args.build_dir, spec["bench"])
        peer = os.path.join(args.peers_dir, spec["peer"])
        versions["lamina BLAS"] = f"`{blas_of(binary)}` (linked by `{spec['bench']}`)"
        res_path = os.path.join(args.results_dir, f"{date}-{w}.jsonl")
        results_files.append(os.path.relpath(res_path, ROOT))
        # earlier runs of the same day stay in the file; this run's lines carry its run_id
        previous = []
        if os.path.exists(res_path):
            with open(res_path) as f:
                previous = [l for l in f if l.startswith("{")]
        all_recs = []
        summaries[w] = []
        extra = spec.get("args", [])
        for t in threads:
            configs = [("lamina", [binary, "--threads", str(t)] + extra)]
            if have_torch:
                pcmd = [PEER_PY, peer, "--threads", str(t)] + extra
                configs.append((f"t{t}", pcmd))
                # the peers' fastest configs (perf-baselines.md): channels_last for the conv
                # nets; at N > 1 threads also OpenBLAS on one thread (t2_tuned)
                cl = ["--channels-last"] if spec.get("channels_last") else []
                if t == 1 and cl:
                    configs.append(("t1_cl", pcmd + cl))
                if t > 1:
                    configs.append((f"t{t}_tuned", pcmd + ["--blas-threads", "1"] + cl))
            kept = {label: [] for label, _ in configs}
            for r in range(args.rounds):
                log(f"{w} threads {t} round {r + 1}/{args.rounds}")
                for label, cmd in configs:
                    meta = {"label": label, "round": r, "metric": spec["metric"], "unit": spec["unit"],
                            "config": label if label != "lamina" else f"t{t}", "date": date,
                            "run_id": run_id}
                    rec, attempts = run_measured(cmd, meta, args, derive=spec.get("derive"))
                    for a in attempts:
                        a.pop("metric", None)
                        a.pop("unit", None)
                    all_recs.extend(attempts)
                    kept[label].append(rec)
                    if rec.get("torch_version"):
                        torch_version = rec["torch_version"]
                    with open(res_path, "w") as f:  # rewrite as we go: partial results survive
                        f.writelines(previous)
                        for a in all_recs:
                            f.write(json.dumps(a) + "\n")
            summaries[w].append(summarize(w, t, kept))
        if not args.no_profile:
            profiles[w] = []
            for t in threads:
                log(f"{w} threads {t}: profile run (LAMINA_PROFILE=1)")
                prof = profile_run(binary, t, args.idle_wait, extra)
                profiles[w].append(prof)
                rec = dict(prof["record"], profile_run=True, accepted=False, date=date, run_id=run_id,
                           profile_table=prof["table"])
                with open(res_path, "a") as f:
                    f.write(json.dumps(rec) + "\n")
    if torch_version:
        versions["PyTorch"] = (f"Debian python3-torch, `torch.__version__` {torch_version}, "
                               f"run with `{PEER_PY}` from `{os.path.relpath(args.peers_dir, ROOT)}`")
    try:
        cc = subprocess.run(["cc", "--version"], capture_output=True, text=True).stdout.splitlines()[0]
        versions["C compiler"] = cc + f" (library flags: `{lib_cflags(args.build_dir)}`)"
    except (OSError, IndexError):
        pass
    references = {w: peer_reference(args.peers_dir, w) for w in workloads}
    finished = datetime.datetime.now(datetime.timezone.utc)
    write_report(args.out, args, date, machine_info(), summaries, profiles, versions, results_files,
                 started.strftime("%H:%M"), finished.strftime("%H:%M"), command, references)
    log(f"wrote {os.path.relpath(args.out, ROOT)}")
    for w, rows in summaries.items():
        for s in rows:
            log(f"{w} t{s['threads']}: lamina {fmt_num(s['lamina'])}  PyTorch {fmt_num(s['peer'])} "
                f"({s['peer_label']})  ratio {s['ratio']:.2f}" if s["ratio"] else f"{w} t{s['threads']}: incomplete")


if __name__ == "__main__":
    main()
