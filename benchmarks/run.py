#!/usr/bin/env python3
"""Benchmark our engine against peer tools on the same data, in one run, and write RESULTS.md.

  python benchmarks/run.py [--data DIR] [--only febrl3 febrl4 pseudopeople synthetic]
                           [--synthetic-records 250000] [--million]
                           [--tools mpi splink recordlinkage] [--timeout 1800]

Every tool runs as its own subprocess on the same canonical records CSV and writes
record_id,cluster_id (plus review pairs); wall time and peak memory of the subprocess tree are
measured from outside, and the output is scored with ../shared/bench/score.py against the truth.

  mpi            our engine: `mpi resolve RECORDS.csv --output C.csv --review-output R.csv`
  splink         benchmarks/peers/splink_run.py (Splink 5 on DuckDB, unsupervised)
  recordlinkage  benchmarks/peers/recordlinkage_run.py (recordlinkage ECM, unsupervised)

Data (built on first use, under --data, default .bench-data):
  febrl3, febrl4, pseudopeople   by ../shared/bench/make_public.py
  synthetic                      by benchmarks/generate.py DIR/synthetic --records N --seed 0
  synthetic-1m (--million)       by benchmarks/generate.py DIR/synthetic-1m --records 1000000 --seed 0,
                                 run with our engine only (time and memory at scale)

Results are merged into benchmarks/results.json (one entry per data set and tool, the latest
measurement wins; --fresh starts over) and benchmarks/RESULTS.md is rendered from it.
A tool that fails, times out or writes an invalid file gets a row saying so.
"""
from __future__ import annotations

import argparse
import csv
import datetime as dt
import hashlib
import importlib.metadata
import json
import os
import platform
import re
import shlex
import shutil
import signal
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)

PUBLIC = ["febrl3", "febrl4", "pseudopeople"]
DATASETS = PUBLIC + ["synthetic"]
TOOLS = ["mpi", "splink", "recordlinkage"]
MILLION = "synthetic-1m"
MILLION_RECORDS = 1_000_000

TOOL_LABEL = {"mpi": "ours (`mpi resolve`)", "splink": "Splink 5 (DuckDB)", "recordlinkage": "recordlinkage (ECM)"}
DATASET_TITLE = {
    "febrl3": "FEBRL 3 (one source, many duplicates per person)",
    "febrl4": "FEBRL 4 (two sources, one true link per record)",
    "pseudopeople": "pseudopeople town (census + WIC + SSA + W-2, four noisy sources)",
    "synthetic": "synthetic (benchmarks/generate.py, seed 0)",
    MILLION: "synthetic at 1M records (our engine alone)",
}
POLL_S = 0.05


# ----------------------------------------------------------------------------------------------
# machine and versions

def machine_info() -> dict:
    cpu = platform.processor() or ""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    os_name = platform.platform()
    try:
        with open("/etc/os-release") as f:
            for line in f:
                if line.startswith("PRETTY_NAME="):
                    os_name = f"{line.split('=', 1)[1].strip().strip(chr(34))} ({platform.system()} {platform.release()})"
    except OSError:
        pass
    info = {"cpu": cpu or "unknown", "logical_cores": os.cpu_count(), "os": os_name,
            "python": platform.python_version()}
    try:
        import psutil
        info["physical_cores"] = psutil.cpu_count(logical=False)
        info["ram_gb"] = round(psutil.virtual_memory().total / 2**30, 1)
    except ImportError:
        try:
            info["ram_gb"] = round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1)
        except (ValueError, OSError):
            info["ram_gb"] = None
    return info


def machine_key(m: dict) -> str:
    return hashlib.sha1(json.dumps([m.get("cpu"), m.get("logical_cores"), m.get("ram_gb"), m.get("os")]).encode()).hexdigest()[:8]


def versions() -> dict:
    v = {}
    for pkg in ("mpi", "splink", "duckdb", "recordlinkage", "pandas", "numpy", "psutil"):
        try:
            v[pkg] = importlib.metadata.version(pkg)
        except importlib.metadata.PackageNotFoundError:
            v[pkg] = "not installed"
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True)
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT,
                               capture_output=True, text=True)
        if head.returncode == 0:
            v["repo_commit"] = head.stdout.strip() + ("+uncommitted changes" if dirty.stdout.strip() else "")
    except OSError:
        pass
    return v


# ----------------------------------------------------------------------------------------------
# measured subprocess

def tree_rss(proc) -> int:
    """Memory of a psutil.Process and all its descendants, in bytes (0 for what already exited).

    Each process counts its proportional set size (PSS) where the OS reports it: pages shared
    between a parent and its forked workers are split between them instead of being counted
    once per process, so a tool that forks is charged what it really holds. Elsewhere RSS.
    """
    import psutil
    total = 0
    try:
        members = [proc] + proc.children(recursive=True)
    except psutil.Error:
        return 0
    for p in members:
        pss = _pss_bytes(p.pid)
        if pss is not None:
            total += pss
            continue
        try:
            total += p.memory_info().rss
        except psutil.Error:
            pass
    return total


def _pss_bytes(pid: int) -> int | None:
    """PSS from /proc/PID/smaps_rollup: one cheap read (the full smaps walk psutil does would
    itself slow a large process down when polled every 50 ms)."""
    try:
        with open(f"/proc/{pid}/smaps_rollup", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("Pss:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError):
        return None
    return None


def busy_cpu_s(psutil) -> float | None:
    """Machine-wide CPU seconds spent not idle so far (all cores), or None without psutil."""
    if psutil is None:
        return None
    t = psutil.cpu_times()
    return sum(t) - t.idle - getattr(t, "iowait", 0.0)


def run_measured(cmd: list[str], timeout: float, log_path: str) -> dict:
    """Run cmd in its own session; sample the RSS of its process tree every POLL_S seconds.

    Returns status ok/failed/timeout, wall seconds, peak summed RSS of the tree (sampled), the
    largest single-process max RSS reported by the kernel (exact, from wait4), CPU seconds."""
    try:
        import psutil
    except ImportError:
        psutil = None
    with open(log_path, "w") as log:
        log.write("$ " + shlex.join(cmd) + "\n")
        log.flush()
        t0 = time.perf_counter()
        try:
            proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT, start_new_session=True)
        except OSError as e:
            return {"status": "failed", "error": f"could not start: {e}", "wall_s": None}
        watched = None
        if psutil is not None:
            try:
                watched = psutil.Process(proc.pid)
            except psutil.Error:
                watched = None
        busy0 = busy_cpu_s(psutil)
        peak = 0
        timed_out = False
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if watched is not None:
                peak = max(peak, tree_rss(watched))
            if time.perf_counter() - t0 > timeout:
                timed_out = True
                try:
                    os.killpg(proc.pid, signal.SIGKILL)  # the session we started, nothing else
                except ProcessLookupError:
                    pass
                pid, status, usage = os.wait4(proc.pid, 0)
                break
            time.sleep(POLL_S)
        wall = time.perf_counter() - t0
        busy1 = busy_cpu_s(psutil)
        proc.returncode = os.waitstatus_to_exitcode(status)
    res = {
        "wall_s": round(wall, 2),
        "peak_rss_mb": round(peak / 2**20, 1) if watched is not None else None,
        "max_process_rss_mb": round(usage.ru_maxrss / 1024, 1),  # Linux reports KiB
        "cpu_s": round(usage.ru_utime + usage.ru_stime, 2),
        "returncode": proc.returncode,
    }
    if busy0 is not None and busy1 is not None:
        # CPU the whole machine spent during the run that was not the tool's: other work competing
        # for the cores (the harness's own 50 ms polling is a small part of it)
        res["other_cpu_s"] = round(max(0.0, busy1 - busy0 - res["cpu_s"]), 2)
    if res["peak_rss_mb"] is None or res["peak_rss_mb"] < res["max_process_rss_mb"]:
        # sampling can miss a short spike; the kernel's high-water mark of one process cannot
        res["peak_rss_mb"] = max(res["peak_rss_mb"] or 0, res["max_process_rss_mb"])
    if timed_out:
        res.update(status="timeout", error=f"killed after {timeout:.0f} s")
    elif proc.returncode != 0:
        res.update(status="failed", error=f"exit status {proc.returncode}: {last_line(log_path)}")
    else:
        res["status"] = "ok"
    return res


def last_line(path: str) -> str:
    try:
        with open(path, errors="replace") as f:
            lines = [ln.strip() for ln in f if ln.strip() and not ln.startswith("$ ")]
    except OSError:
        return ""
    return lines[-1][:300] if lines else "(no output)"


# ----------------------------------------------------------------------------------------------
# data

def count_rows(path: str) -> int:
    with open(path, newline="", encoding="utf-8") as f:
        return sum(1 for _ in csv.reader(f)) - 1


def ensure_public(data: str, names: list[str], shared: str) -> dict[str, str]:
    """Build missing public sets; returns {name: error} for those that could not be built."""
    missing = [n for n in names if not (os.path.exists(os.path.join(data, n, "records.csv"))
                                        and os.path.exists(os.path.join(data, n, "truth.csv")))]
    if not missing:
        return {}
    cmd = [sys.executable, os.path.join(shared, "make_public.py"), data, "--only", *missing]
    print("building public data:", shlex.join(cmd), flush=True)
    r = subprocess.run(cmd, cwd=ROOT)
    if r.returncode != 0:
        return {n: f"make_public.py failed with status {r.returncode}" for n in missing}
    return {}


def ensure_synthetic(data: str, name: str, records: int) -> str | None:
    """Build DIR/name with generate.py when missing (or built by us for another size); error or None."""
    d = os.path.join(data, name)
    stamp = os.path.join(d, ".run-py-generated.json")
    gen = os.path.join(HERE, "generate.py")
    if not os.path.exists(gen):
        return "benchmarks/generate.py does not exist yet"
    with open(gen, "rb") as f:
        gen_hash = hashlib.sha1(f.read()).hexdigest()[:12]
    have = os.path.exists(os.path.join(d, "records.csv")) and os.path.exists(os.path.join(d, "truth.csv"))
    if have and os.path.exists(stamp):
        with open(stamp) as f:
            old = json.load(f)
        if old.get("records") == records and old.get("generator_sha1") == gen_hash:
            return None
        have = False  # we built it for another size or with another version of generate.py
    if have:
        return None  # put there by someone else: use as is (its row count is reported)
    cmd = [sys.executable, gen, d, "--records", str(records), "--seed", "0"]
    print("building synthetic data:", shlex.join(cmd), flush=True)
    t0 = time.perf_counter()
    r = subprocess.run(cmd, cwd=ROOT)
    if r.returncode != 0:
        return f"generate.py failed with status {r.returncode}"
    with open(stamp, "w") as f:
        json.dump({"records": records, "seed": 0, "generator_sha1": gen_hash,
                   "seconds": round(time.perf_counter() - t0, 1)}, f)
    return None


# ----------------------------------------------------------------------------------------------
# tools

def mpi_command() -> list[str] | None:
    exe = shutil.which("mpi") or os.path.join(os.path.dirname(sys.executable), "mpi")
    return [exe] if os.path.exists(exe) else None


def tool_command(tool: str, records: str, out: str, review: str) -> list[str] | None:
    if tool == "mpi":
        base = mpi_command()
        return None if base is None else base + ["resolve", records, "--output", out, "--review-output", review]
    script = {"splink": "splink_run.py", "recordlinkage": "recordlinkage_run.py"}[tool]
    return [sys.executable, os.path.join(HERE, "peers", script), records, "--output", out, "--review-output", review]


def run_tool(tool: str, d: str, timeout: float, score_mod, truth_rows: list[dict]) -> dict:
    outdir = os.path.join(d, "out")
    os.makedirs(outdir, exist_ok=True)
    out, review, log = (os.path.join(outdir, f"{tool}.{x}") for x in ("clusters.csv", "review.csv", "log"))
    for p in (out, review):
        if os.path.exists(p):
            os.unlink(p)  # never score a stale file
    cmd = tool_command(tool, os.path.join(d, "records.csv"), out, review)
    if cmd is None:
        return {"status": "failed", "error": "`mpi` command not found (package not installed in this environment)"}
    print(f"  {tool}: {shlex.join(cmd)}", flush=True)
    res = run_measured(cmd, timeout, log)
    res["command"] = shlex.join(os.path.relpath(c, ROOT) if os.path.isabs(c) and c.startswith(ROOT) else c for c in cmd)
    res["log"] = os.path.relpath(log, ROOT)
    if res["status"] != "ok":
        return res
    if not os.path.exists(out):
        res.update(status="invalid", error="exited 0 but wrote no clusters file")
        return res
    try:
        rows = score_mod.read_csv(out)
        rev = score_mod.read_csv(review) if os.path.exists(review) else None
        res["score"] = score_mod.score(truth_rows, rows, rev)
        if rev is None:
            res["note"] = "no review file written"
    except SystemExit as e:  # score() reports a malformed clusters file this way
        res.update(status="invalid", error=str(e))
    except (KeyError, ValueError, csv.Error) as e:
        res.update(status="invalid", error=f"unreadable output: {e!r}")
    return res


# ----------------------------------------------------------------------------------------------
# report

def fmt(x, nd=4) -> str:
    if x is None:
        return "—"
    if isinstance(x, float):
        return f"{x:.{nd}f}"
    return f"{x:,}" if isinstance(x, int) else str(x)


def category_cell(s: dict) -> str:
    cats = s.get("by_category")
    if not cats:
        return "—"
    return "; ".join(f"{c} {d['false_merge_pairs']}" for c, d in cats.items())


def table(name: str, entry: dict, tools: list[str]) -> list[str]:
    has_cats = any((t.get("score") or {}).get("by_category") for t in entry.get("tools", {}).values())
    head = ["tool", "pair P", "pair R", "pair F1", "B³ P", "B³ R", "B³ F1", "overlays", "false-merge pairs"]
    if has_cats:
        head.append("false merges by category")
    head += ["review pairs /1000", "wall s", "cpu s", "peak MB"]
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join("---" for _ in head) + "|"]
    for tool in tools:
        r = entry.get("tools", {}).get(tool)
        label = TOOL_LABEL.get(tool, tool)
        blanks = len(head) - 2
        if r is None:
            why = "pending: not measured yet" if tool == "mpi" else "not run"
            lines.append(f"| {label} | {why} |" + " — |" * blanks)
            continue
        if r["status"] != "ok":
            err = (r.get("error") or "").replace("|", "\\|")
            lines.append(f"| {label} | **{r['status']}**: {err} |" + " — |" * (blanks - 3)
                         + f" {fmt(r.get('wall_s'), 1)} | {fmt(r.get('cpu_s'), 1)} | {fmt(r.get('peak_rss_mb'), 0)} |")
            continue
        s = r["score"]
        cells = [label, fmt(s["pair_precision"]), fmt(s["pair_recall"]), fmt(s["pair_f1"]),
                 fmt(s["bcubed_precision"]), fmt(s["bcubed_recall"]), fmt(s["bcubed_f1"]),
                 fmt(s["overlay_clusters"]), fmt(s["false_merge_pairs"])]
        if has_cats:
            cells.append(category_cell(s))
        wall = fmt(r["wall_s"], 1) + (" ⚠" if contended(r) else "")
        cells += [fmt(s.get("review_per_1000_records"), 2), wall, fmt(r.get("cpu_s"), 1), fmt(r["peak_rss_mb"], 0)]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def contended(r: dict) -> bool:
    """Other work on the machine used more than a quarter of a core on average during the run."""
    other, wall = r.get("other_cpu_s"), r.get("wall_s")
    return bool(other is not None and wall and other / wall > 0.25)


def ratio_line(entry: dict) -> str | None:
    t = entry.get("tools", {})
    a, b = t.get("mpi"), t.get("splink")
    if not (a and b and a["status"] == "ok" and b["status"] == "ok"):
        return None
    return (f"Ours vs Splink: wall time {a['wall_s'] / b['wall_s']:.2f}×, peak memory "
            f"{a['peak_rss_mb'] / b['peak_rss_mb']:.2f}× (below 1 means ours is faster / smaller).")


def render(results: dict, path: str) -> None:
    runs = results.get("runs", [])
    last = runs[-1] if runs else {}
    m = last.get("machine", {})
    v = last.get("versions", {})
    L = ["# Benchmark results", "",
         "Generated by `benchmarks/run.py` from `benchmarks/results.json`; do not edit by hand. "
         "See `benchmarks/README.md` for what is measured and how.", "",
         "## Machine and versions (latest run)", "",
         f"- CPU: {m.get('cpu')}, {m.get('logical_cores')} logical cores"
         + (f" ({m['physical_cores']} physical)" if m.get("physical_cores") else ""),
         f"- RAM: {m.get('ram_gb')} GB",
         f"- OS: {m.get('os')}",
         f"- Python: {m.get('python')}",
         "- Versions: " + ", ".join(f"{k} {val}" for k, val in v.items()),
         ""]
    measured = [t for e in results.get("datasets", {}).values() for k, t in e.get("tools", {}).items()
                if k == "mpi" and t.get("status") == "ok"]
    if not measured:
        L += ["**Our engine's rows are pending:** this file holds peer measurements only so far; the rows "
              "for `mpi resolve` will be filled in by a full run (`python benchmarks/run.py --million`).", ""]
    keys = {r.get("machine_key") for i, r in enumerate(runs)
            if i + 1 in {t.get("run") for e in results.get("datasets", {}).values() for t in e.get("tools", {}).values()}}
    if len(keys) > 1:
        L += ["**Warning:** the rows below were measured on more than one machine (see the runs list); "
              "compare times only within one run.", ""]
    L += ["## Runs merged into this file", "",
          "Reproduce everything with `python benchmarks/run.py --million` from the repository root "
          "(public data are built by `../shared/bench/make_public.py`, synthetic data by `benchmarks/generate.py`). "
          "Each row below is the latest measurement of that tool on that data set; the runs were:", ""]
    used = {t.get("run") for e in results.get("datasets", {}).values() for t in e.get("tools", {}).values()}
    for i, r in enumerate(runs):
        if i + 1 not in used:
            continue  # every row it measured was measured again later
        L.append(f"{i + 1}. {r.get('date')}: `{r.get('command')}` (machine {r.get('machine_key')}, "
                 f"commit {r.get('versions', {}).get('repo_commit', '?')})")
    L += ["", "## How the tools were run", "",
          "- **ours**: `mpi resolve RECORDS.csv --output C.csv --review-output R.csv`, unsupervised, defaults.",
          "- **Splink 5 (DuckDB)**: `benchmarks/peers/splink_run.py`, tutorial-style and unsupervised: light "
          "cleaning (lower-case/strip, digits-only ssn/phone, dob parsed to ISO where possible); comparisons "
          "NameComparison (Jaro-Winkler levels, term-frequency adjusted) on first/last name, DateOfBirthComparison, "
          "Levenshtein on ssn/phone/zip, EmailComparison, Jaro-Winkler on street/city; columns empty in >99% of records "
          "left out; blocking on first+last name, dob, ssn, zip+last name (phone, email when present); prior from "
          "deterministic rules at assumed recall 0.7, u by random sampling (1e7 pairs, seeded), m by EM over blocks on "
          "first+last name, dob and ssn. Predict keeps pairs with probability >= 0.5; **clusters are connected "
          "components at match probability 0.95**. Review pairs: probability in [0.5, 0.95) and not already in the "
          "same cluster.",
          "- **recordlinkage (ECM)**: `benchmarks/peers/recordlinkage_run.py`: same cleaning; candidate pairs = union "
          "of blocks on first+last name, dob, ssn, zip+last name; features = Jaro-Winkler >= 0.85 on first/last name, "
          "street, city and exact agreement on dob, ssn, zip, phone, email (missing counts as disagreement, the "
          "toolkit default); unsupervised ECMClassifier, links at probability >= 0.5, connected components. The "
          "toolkit has no review band, so its review load is 0 by construction.",
          "- Wall time is the whole subprocess (interpreter start, reading the CSV, training, writing the output). "
          "**Peak MB** is the highest sum of the proportional set sizes (PSS: shared pages split between the "
          "processes sharing them) of the tool's process and all its descendants, "
          f"sampled with psutil every {int(POLL_S * 1000)} ms (never below the kernel's exact max RSS of the largest "
          "single process, from wait4).",
          "- **cpu s** is the user+system CPU time of the tool's process tree (from wait4). A ⚠ on a wall time "
          "means other processes used more than a quarter of a core on average during that run (machine-wide busy "
          "CPU from psutil minus the tool's own), so that wall time is inflated by contention.",
          "- Scores by `../shared/bench/score.py` (pairwise and B-cubed precision/recall/F1 over the clusters; "
          "overlays = clusters mixing persons; false-merge pairs = pairs of different persons in one cluster; "
          "review pairs per 1000 input records).",
          ""]
    order = DATASETS + [MILLION]
    for name in order:
        entry = results.get("datasets", {}).get(name)
        if not entry:
            continue
        ds = entry.get("dataset", {})
        L.append(f"## {name}: {DATASET_TITLE.get(name, name)}")
        L.append("")
        if ds.get("error"):
            L += [f"Data set not available: {ds['error']}", ""]
        if ds.get("records") is not None:
            L += [f"{ds['records']:,} records, {ds.get('persons', 0):,} persons, {ds.get('true_pairs', 0):,} true pairs"
                  f" (`{ds.get('path')}`).", ""]
        # our row always shows (as pending until measured); peers only once they were run
        tools = ["mpi"] + [t for t in TOOLS if t != "mpi" and t in entry.get("tools", {})]
        L += table(name, entry, tools)
        rl = ratio_line(entry)
        L += ["", rl] if rl else []
        busy = [f"{TOOL_LABEL.get(t, t)}: {r['other_cpu_s'] / r['wall_s']:.1f} cores"
                for t, r in entry.get("tools", {}).items() if contended(r)]
        if busy:
            L += ["", "⚠ Other work was running on the machine during these measurements (average CPU used by "
                  "other processes: " + "; ".join(busy) + "); their wall times are inflated, cpu s is not."]
        L.append("")
    kept = _marked_sections(path)
    with open(path, "w") as f:
        f.write("\n".join(L).rstrip() + "\n" + "".join("\n" + k + "\n" for k in kept))


_MARKED = re.compile(r"<!-- (\w+):start -->.*?<!-- \1:end -->", re.S)


def _marked_sections(path: str) -> list[str]:
    """The sections other benchmark scripts own (between ``<!-- NAME:start -->`` and
    ``<!-- NAME:end -->``), kept as they are when this script rewrites the file."""
    if not os.path.exists(path):
        return []
    with open(path, encoding="utf-8") as f:
        return [m.group(0) for m in _MARKED.finditer(f.read())]


# ----------------------------------------------------------------------------------------------

def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default=".bench-data", help="data directory (relative to the repository root)")
    ap.add_argument("--only", nargs="+", choices=DATASETS, help="data sets to run (default: all)")
    ap.add_argument("--synthetic-records", type=int, default=250_000)
    ap.add_argument("--million", action="store_true", help="also run our engine alone on 1M synthetic records")
    ap.add_argument("--tools", nargs="+", choices=TOOLS, default=TOOLS)
    ap.add_argument("--timeout", type=float, default=1800, help="seconds per tool run (default 1800)")
    ap.add_argument("--shared", default="../shared/bench", help="where score.py and make_public.py live")
    ap.add_argument("--results", default=os.path.join(HERE, "results.json"))
    ap.add_argument("--report", default=os.path.join(HERE, "RESULTS.md"))
    ap.add_argument("--fresh", action="store_true", help="forget earlier entries of results.json")
    ap.add_argument("--render-only", action="store_true", help="only rewrite RESULTS.md from results.json")
    a = ap.parse_args(argv)
    os.chdir(ROOT)

    results: dict = {"schema": 1, "runs": [], "datasets": {}}
    if os.path.exists(a.results) and not a.fresh:
        with open(a.results) as f:
            results = json.load(f)
    if a.render_only:
        render(results, a.report)
        print(f"wrote {a.report}")
        return 0

    shared = os.path.abspath(a.shared)
    sys.path.insert(0, shared)
    import score as score_mod  # ../shared/bench/score.py

    names = a.only or DATASETS
    data = a.data
    machine = machine_info()
    run_info = {"date": dt.datetime.now().astimezone().isoformat(timespec="seconds"),
                "command": shlex.join(["python", "benchmarks/run.py", *(argv if argv is not None else sys.argv[1:])]),
                "machine": machine, "machine_key": machine_key(machine), "versions": versions(),
                "timeout_s": a.timeout}
    results.setdefault("runs", []).append(run_info)
    run_no = len(results["runs"])

    errors = ensure_public(data, [n for n in names if n in PUBLIC], shared)
    jobs = [(n, list(a.tools)) for n in names]
    if "synthetic" in names:
        err = ensure_synthetic(data, "synthetic", a.synthetic_records)
        if err:
            errors["synthetic"] = err
    if a.million:
        err = ensure_synthetic(data, MILLION, MILLION_RECORDS)
        if err:
            errors[MILLION] = err
        jobs.append((MILLION, ["mpi"]))

    def save() -> None:
        tmp = a.results + ".tmp"
        with open(tmp, "w") as f:
            json.dump(results, f, indent=1)
        os.replace(tmp, a.results)
        render(results, a.report)

    for name, tools in jobs:
        d = os.path.join(data, name)
        entry = results.setdefault("datasets", {}).setdefault(name, {"tools": {}})
        entry.setdefault("tools", {})
        print(f"{name}:", flush=True)
        if name in errors:
            entry["dataset"] = {"path": d, "error": errors[name]}
            for tool in tools:
                entry["tools"][tool] = {"status": "failed", "error": f"data set not built: {errors[name]}",
                                        "run": run_no, "date": run_info["date"]}
            print(f"  data set not available: {errors[name]}", flush=True)
            save()
            continue
        truth = score_mod.read_csv(os.path.join(d, "truth.csv"))
        persons: dict[str, int] = {}
        for r in truth:
            persons[r["person_id"]] = persons.get(r["person_id"], 0) + 1
        entry["dataset"] = {"path": d, "records": count_rows(os.path.join(d, "records.csv")),
                            "persons": len(persons), "true_pairs": sum(n * (n - 1) // 2 for n in persons.values())}
        if name == "synthetic":
            entry["dataset"]["requested_records"] = a.synthetic_records
        stamp = os.path.join(d, ".run-py-generated.json")
        if os.path.exists(stamp):
            with open(stamp) as f:
                entry["dataset"]["generated"] = json.load(f)
        for tool in tools:
            res = run_tool(tool, d, a.timeout, score_mod, truth)
            res.update(run=run_no, date=run_info["date"])
            entry["tools"][tool] = res
            s = res.get("score") or {}
            if res["status"] == "ok":
                print(f"    -> ok: pair F1 {s['pair_f1']}  B3 F1 {s['bcubed_f1']}  overlays {s['overlay_clusters']}  "
                      f"review/1000 {s.get('review_per_1000_records')}  {res['wall_s']} s  {res['peak_rss_mb']} MB",
                      flush=True)
            else:
                print(f"    -> {res['status']}: {res.get('error')} ({res.get('wall_s')} s)", flush=True)
            save()
    save()
    print(f"wrote {os.path.relpath(a.report, ROOT)} and {os.path.relpath(a.results, ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
