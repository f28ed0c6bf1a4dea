"""Benchmarks of the persistent MPI (issue: store floors).

Measurements, each written into ``benchmarks/store_results.json`` and the store section of
``benchmarks/RESULTS.md``:

- ``load``: ``mpi load`` then ``mpi export`` on a hard-case set, against ``mpi resolve`` on the
  same file (pair F1 of each, scored by ../shared/bench/score.py), plus load time and peak memory.
- ``realtime``: a store of N records (seeded from a batch resolution of the set minus held-out
  records), then single-record ``match`` latency (p50/p95/p99, in-process) for the held-out
  records, top-1 accuracy of the match, and incremental ``ingest`` rate (one transaction per
  record) of the held-out records. SQLite and PostgreSQL.

    python benchmarks/store_bench.py load --data .bench-data/synthetic-50k
    python benchmarks/store_bench.py realtime --data .bench-data/synthetic-1m --backends sqlite postgresql
    python benchmarks/store_bench.py bulk --data .bench-data/synthetic-1m --backends sqlite
    python benchmarks/store_bench.py realtime --data .bench-data/synthetic-1m --reuse-store --repeat 3

``realtime --reuse-store`` keeps the seeded store (a SQLite file under ``DATA/../stores/``, a
PostgreSQL database named with ``--pg-prefix``) and runs each benchmark on a copy of it (the ingest
part changes the store), so a re-run after a code change costs a file or template copy instead of
a batch resolution and a seed (about 20 minutes at 1M records per backend).
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
SHARED = HERE.parent.parent / "shared" / "bench"
RESULTS_JSON = HERE / "store_results.json"
RESULTS_MD = HERE / "RESULTS.md"
PG_ADMIN = os.environ.get("MPI_BENCH_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")


def _score(truth: Path, clusters: Path, review: Path | None) -> dict:
    cmd = [sys.executable, str(SHARED / "score.py"), str(truth), str(clusters)]
    if review is not None:
        cmd += ["--review", str(review)]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    metrics = {}
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 2:
            try:
                metrics[parts[0]] = float(parts[1])
            except ValueError:
                pass
    return metrics


def _timed(cmd: list[str]) -> tuple[float, float]:
    """Run a command; wall seconds and the peak RSS (MB) of its largest process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    wall = time.perf_counter() - t0
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return wall, max(peak, before) / 1024


PG_PREFIX = "mpi_bench_"  # --pg-prefix: database names of this run (one of your own beside others' runs)


def _fresh_pg(name: str, template: str | None = None) -> str:
    """An empty PostgreSQL database ``name`` (or a copy of ``template``), dropped first if it exists.

    A copy is made file by file (``STRATEGY FILE_COPY``, PostgreSQL 15 and later) and followed by
    a checkpoint: the default strategy logs the whole multi-GB template through the WAL, and the
    checkpoints that WAL sets off went on writing through the first half minute of the
    measurement that followed."""
    from sqlalchemy import create_engine, text
    admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        if template:
            file_copy = conn.dialect.server_version_info >= (15,)
            conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{template}"' +
                              (" STRATEGY FILE_COPY" if file_copy else "")))
            conn.execute(text("CHECKPOINT"))
        else:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return PG_ADMIN.rsplit("/", 1)[0] + "/" + name


def _url(backend: str, tmp: Path, name: str) -> str:
    if backend == "sqlite":
        path = tmp / f"{name}.db"
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        return f"sqlite:///{path}"
    return _fresh_pg(PG_PREFIX + name)


def _drop_pg(url: str) -> None:
    from sqlalchemy import create_engine, text
    admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{url.rsplit("/", 1)[1]}" WITH (FORCE)'))
    admin.dispose()


def _base_manifest(data: Path, backend: str, held_out: int, seed: int) -> Path:
    stores = data.resolve().parent / "stores"
    stores.mkdir(parents=True, exist_ok=True)
    return stores / f"{PG_PREFIX}{data.resolve().name}-h{held_out}-s{seed}-{backend}.json"


def _data_stamp(data: Path) -> dict:
    st = (data / "records.csv").stat()
    return {"records_csv_bytes": st.st_size, "records_csv_mtime": int(st.st_mtime)}


def _base_store(data: Path, backend: str, held_out: int, seed: int) -> dict | None:
    """The manifest of a complete seeded base store for this split, or None (none, or stale)."""
    path = _base_manifest(data, backend, held_out, seed)
    if not path.exists():
        return None
    m = json.loads(path.read_text())
    if any(m.get(k) != v for k, v in {"held_out": held_out, "seed": seed, **_data_stamp(data)}.items()):
        return None
    if backend == "sqlite" and not Path(m["url"].removeprefix("sqlite:///")).exists():
        return None
    return m


def _working_copy(base_url: str, backend: str, tmp: Path, name: str) -> str:
    """A throw-away copy of a base store (a file copy, or a PostgreSQL template copy)."""
    import shutil
    if backend == "sqlite":
        target = tmp / f"{name}.db"
        for suffix in ("", "-wal"):  # a WAL left by an unclean close holds committed pages
            if Path(base_url.removeprefix("sqlite:///") + suffix).exists():
                shutil.copyfile(base_url.removeprefix("sqlite:///") + suffix, f"{target}{suffix}")
                # written out before measuring: the kernel's writeback of a fresh multi-GB copy
                # would otherwise compete with the store's own writes
                fd = os.open(f"{target}{suffix}", os.O_RDONLY)
                try:
                    os.fsync(fd)
                finally:
                    os.close(fd)
        return f"sqlite:///{target}"
    return _fresh_pg(PG_PREFIX + name, template=base_url.rsplit("/", 1)[1])


def bench_load(data: Path, backends: list[str], tmp: Path) -> dict:
    records, truth = data / "records.csv", data / "truth.csv"
    out: dict = {"data": str(data), "records": int(sum(1 for _ in open(records)) - 1)}
    resolve_clusters, resolve_review = tmp / "resolve.csv", tmp / "resolve_review.csv"
    wall, peak = _timed(["mpi", "resolve", str(records), "--output", str(resolve_clusters),
                         "--review-output", str(resolve_review), "--quiet"])
    out["resolve"] = {"wall_s": round(wall, 1), "peak_mb": round(peak), **_pick(_score(truth, resolve_clusters,
                                                                                      resolve_review))}
    for backend in backends:
        url = _url(backend, tmp, "load")
        wall, peak = _timed(["mpi", "load", str(records), "--db", url, "--quiet"])
        clusters, review = tmp / f"load_{backend}.csv", tmp / f"load_{backend}_review.csv"
        subprocess.run(["mpi", "export", "--db", url, "--output", str(clusters), "--review-output", str(review)],
                       check=True, stderr=subprocess.DEVNULL)
        again, _ = _timed(["mpi", "load", str(records), "--db", url, "--quiet"])
        scores = _pick(_score(truth, clusters, review))
        out[f"load_{backend}"] = {"wall_s": round(wall, 1), "records_per_s": round(out["records"] / wall, 1),
                                  "peak_mb": round(peak), "reload_unchanged_s": round(again, 1), **scores,
                                  "f1_gap_vs_resolve": round(out["resolve"]["pair_f1"] - scores["pair_f1"], 4)}
        print(backend, out[f"load_{backend}"], flush=True)
    return out


def bench_bulk(data: Path, backends: list[str], tmp: Path) -> dict:
    """``mpi load`` of a whole file into an empty store: wall time, CPU time, peak memory."""
    records = data / "records.csv"
    out: dict = {"data": str(data), "records": int(sum(1 for _ in open(records)) - 1)}
    for backend in backends:
        url = _url(backend, tmp, "bulk")
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.perf_counter()
        subprocess.run(["mpi", "load", str(records), "--db", url, "--quiet"], check=True)
        wall = time.perf_counter() - t0
        ru = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = ru.ru_utime + ru.ru_stime - before.ru_utime - before.ru_stime
        out[backend] = {"wall_s": round(wall, 1), "cpu_s": round(cpu, 1), "peak_rss_mb": round(ru.ru_maxrss / 1024),
                        "records_per_s": round(out["records"] / wall, 1), "when": time.strftime("%Y-%m-%d %H:%M"),
                        "load_avg_after": [round(x, 2) for x in os.getloadavg()]}
        print(backend, out[backend], flush=True)
    return out


def _pick(m: dict) -> dict:
    keys = ("pair_precision", "pair_recall", "pair_f1", "bcubed_f1", "false_merge_pairs", "review_per_1000_records")
    return {k: m.get(k) for k in keys}


def held_out_split(data: Path, held_out: int, seed: int) -> tuple[pd.DataFrame, pd.DataFrame, pd.Series]:
    """(stored, queries, truth) of a data set: ``held_out`` query records, drawn with ``seed`` among
    the records whose person has other records (so the person is in the store), and the rest to
    store. ``truth`` maps record_id to person_id. Shared by the realtime and HTTP benchmarks."""
    import mpi

    raw = mpi.read_records_csv(data / "records.csv")
    truth = pd.read_csv(data / "truth.csv", dtype=str, keep_default_na=False).set_index("record_id")["person_id"]
    rng = np.random.default_rng(seed)
    # held-out queries: records whose person has other records in the store
    multi = truth[truth.map(truth.value_counts()) >= 2]
    query_ids = set(rng.choice(multi.index.to_numpy(), size=held_out, replace=False))
    is_query = raw["record_id"].isin(query_ids).to_numpy()
    stored, queries = raw[~is_query].reset_index(drop=True), raw[is_query].reset_index(drop=True)
    return stored, queries, truth


def person_goldens(store, truth: pd.Series) -> dict[str, set]:  # type: ignore[no-untyped-def]
    """person_id -> the golden ids of the store that hold one of that person's stored records
    (golden ids are derived from each cluster's founder, so they are read back with export)."""
    exported, _ = store.export()
    person_store: dict[str, set] = {}
    for rid, gid in zip(exported["record_id"], exported["cluster_id"]):
        person_store.setdefault(truth[rid], set()).add(gid)
    return person_store


class _Seeded:
    """Seeded stores of one split, one per backend: built fresh in ``tmp``, or (``reuse``) built
    once as a base store and copied for each run. The batch resolution is made once, if needed."""

    def __init__(self, data: Path, stored: pd.DataFrame, held_out: int, seed: int, tmp: Path, reuse: bool,
                 build_only: bool = False) -> None:
        self.data, self.stored, self.held_out, self.seed, self.tmp, self.reuse = data, stored, held_out, seed, tmp, reuse
        self.build_only = build_only
        self.resolution = None
        self.resolve_s: float | None = None

    def _resolve(self):  # type: ignore[no-untyped-def]
        import mpi
        if self.resolution is None:
            t0 = time.perf_counter()
            self.resolution = mpi.resolve(self.stored, validated=True)
            self.resolve_s = round(time.perf_counter() - t0, 1)
        return self.resolution

    def _seed(self, url: str) -> tuple[dict, float]:
        from mpi.service import MasterPatientIndex
        from mpi.store.seed import seed_from_resolution
        resolution = self._resolve()
        with MasterPatientIndex(url) as store:
            t0 = time.perf_counter()
            written = seed_from_resolution(store, self.stored, resolution)
            return written, round(time.perf_counter() - t0, 1)

    def get(self, backend: str) -> dict:
        """``url`` of a store to measure on, with how it was made (seed time, reused or not)."""
        if not self.reuse:
            url = _url(backend, self.tmp, "rt")
            written, seed_s = self._seed(url)
            return {"url": url, "seeded": written, "seed_s": seed_s, "resolve_for_seed_s": self.resolve_s,
                    "reused": False}
        base = _base_store(self.data, backend, self.held_out, self.seed)
        if base is None:
            manifest = _base_manifest(self.data, backend, self.held_out, self.seed)
            if backend == "sqlite":
                path = manifest.with_suffix(".db")
                for suffix in ("", "-wal", "-shm"):
                    Path(f"{path}{suffix}").unlink(missing_ok=True)
                url = f"sqlite:///{path}"
            else:
                url = _fresh_pg(manifest.stem.replace("-", "_").replace(".", "_").lower()[:63])
            written, seed_s = self._seed(url)
            base = {"url": url, "seeded": written, "seed_s": seed_s, "resolve_for_seed_s": self.resolve_s,
                    "held_out": self.held_out, "seed": self.seed, **_data_stamp(self.data),
                    "built": time.strftime("%Y-%m-%d %H:%M")}
            manifest.write_text(json.dumps(base, indent=1))
            reused = False
        else:
            reused = True
        if self.build_only:
            return {**base, "reused": reused}
        t0 = time.perf_counter()
        url = _working_copy(base["url"], backend, self.tmp, "rt")
        print(f"[{backend}] working copy of {base['url']} in {time.perf_counter() - t0:.0f} s", flush=True)
        return {**base, "url": url, "reused": reused, "base_url": base["url"]}


def _measure(store, query_rows: list[dict], truth: pd.Series) -> dict:  # type: ignore[no-untyped-def]
    """Match latency and accuracy of every query, then the incremental ingest rate of the same
    queries (one transaction each)."""
    person_store = person_goldens(store, truth)
    for row in query_rows[:50]:  # warm caches and the model
        store.match(row, limit=5)
    lat, top1_ok, certain, certain_ok = [], 0, 0, 0
    for row in query_rows:
        t = time.perf_counter()
        found = store.match(row, limit=5)
        lat.append((time.perf_counter() - t) * 1000)
        right = person_store.get(truth[row["record_id"]], set())
        if found and found[0].golden_id in right:
            top1_ok += 1
        if found and found[0].grade == "certain":
            certain += 1
            certain_ok += found[0].golden_id in right
    lat_a = np.array(lat)
    # incremental ingest: the first half one transaction per record (store.ingest), the second
    # half as `mpi load` ingests a file (ingest_frame, 200 records per transaction)
    half = len(query_rows) // 2
    t0 = time.perf_counter()
    decisions: dict[str, int] = {}
    ingest_lat = []
    for row in query_rows[:half]:
        t = time.perf_counter()
        r = store.ingest(row)
        ingest_lat.append((time.perf_counter() - t) * 1000)
        decisions[r.decision] = decisions.get(r.decision, 0) + 1
    ingest_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    batched = store.ingest_frame(pd.DataFrame(query_rows[half:]), batch_size=200)
    batched_s = time.perf_counter() - t0
    return {"match_ms_p50": round(float(np.percentile(lat_a, 50)), 2),
            "match_ms_p95": round(float(np.percentile(lat_a, 95)), 2),
            "match_ms_p99": round(float(np.percentile(lat_a, 99)), 2),
            "match_top1_right": round(top1_ok / len(query_rows), 4),
            "certain_share": round(certain / len(query_rows), 4),
            "certain_right": round(certain_ok / max(certain, 1), 4),
            "ingest_records_per_s": round(half / ingest_s, 1),
            "ingest_ms_p50": round(float(np.percentile(ingest_lat, 50)), 2),
            "ingest_ms_p99": round(float(np.percentile(ingest_lat, 99)), 2),
            "ingest_decisions": decisions, "ingest_records": half,
            "batched_ingest_records": len(query_rows) - half,
            "batched_ingest_records_per_s": round((len(query_rows) - half) / batched_s, 1),
            "batched_ingest_decisions": batched}


SPREAD = ("match_ms_p50", "match_ms_p99", "ingest_records_per_s", "batched_ingest_records_per_s")


def _median_of(runs: list[dict]) -> dict:
    """Per measure, the median over runs (numbers); anything else as the first run has it."""
    out = dict(runs[0])
    for key, value in runs[0].items():
        values = [r[key] for r in runs]
        if isinstance(value, (int, float)) and not isinstance(value, bool) and len(set(values)) > 1:
            out[key] = round(float(np.median(values)), 4)  # (a count the same in every run stays as it is)
    return out


def bench_realtime(data: Path, backends: list[str], tmp: Path, held_out: int, seed: int,
                   reuse: bool = False, build_only: bool = False, repeat: int = 1) -> dict:
    from mpi.service import MasterPatientIndex

    stored, queries, truth = held_out_split(data, held_out, seed)
    out: dict = {"data": str(data), "stored_records": len(stored), "queries": len(queries)}
    query_rows = queries.to_dict("records")
    stores = _Seeded(data, stored, held_out, seed, tmp, reuse, build_only)
    for backend in backends:
        made = stores.get(backend)
        if made.get("resolve_for_seed_s") is not None:
            out["resolve_for_seed_s"] = made["resolve_for_seed_s"]
        if build_only:
            continue
        runs = []
        for run in range(repeat):  # each run on its own fresh copy of the base store
            if run:
                made = stores.get(backend)
            try:
                with MasterPatientIndex(made["url"]) as store:
                    runs.append(_measure(store, query_rows, truth))
            finally:
                _discard(made, backend)
            print(backend, f"run {run + 1}:", {k: runs[-1][k] for k in SPREAD}, flush=True)
        measured = _median_of(runs)
        out[backend] = {"seed_s": made["seed_s"], "seeded": made["seeded"], "store_reused": made["reused"],
                        **measured, "runs": [{k: r[k] for k in SPREAD} for r in runs],
                        "load_avg_after": [round(x, 2) for x in os.getloadavg()],
                        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)}
        print(backend, out[backend], flush=True)
    return out


def _discard(made: dict, backend: str) -> None:
    """Drop a working copy (never the base store it was copied from)."""
    if backend == "postgresql" and made.get("base_url"):
        _drop_pg(made["url"])


def _machine() -> dict:
    import psutil
    return {"cpu": platform.processor() or platform.machine(), "cores": os.cpu_count(),
            "memory_gb": round(psutil.virtual_memory().total / 2**30), "python": platform.python_version()}


def _write(kind: str, result: dict) -> None:
    data = json.loads(RESULTS_JSON.read_text()) if RESULTS_JSON.exists() else {}
    if kind in ("realtime", "bulk") and kind in data and data[kind].get("data") == result.get("data"):
        result = {**data[kind], **result}  # one backend re-run keeps the other's figures (bulk: each with its date)
    data[kind] = {**result, "machine": _machine(), "when": time.strftime("%Y-%m-%d %H:%M")}
    RESULTS_JSON.write_text(json.dumps(data, indent=1))
    _write_markdown(data)


def _write_markdown(data: dict) -> None:
    lines = ["<!-- store:start -->", "## Persistent store (`benchmarks/store_bench.py`)", ""]
    for kind in sorted(k for k in data if k.startswith("load")):
        d = data[kind]
        lines += [f"`mpi load` + `mpi export` vs `mpi resolve` on `{d['data']}` ({d['records']:,} records), "
                  f"{d['when']}:", "",
                  "| path | pair F1 | B-cubed F1 | false-merge pairs | review/1000 | wall s | records/s | peak MB |",
                  "|---|---|---|---|---|---|---|---|"]
        r = d["resolve"]
        lines.append(f"| mpi resolve | {r['pair_f1']} | {r['bcubed_f1']} | {r['false_merge_pairs']:.0f} | "
                     f"{r['review_per_1000_records']} | {r['wall_s']} | | {r['peak_mb']} |")
        for b in ("sqlite", "postgresql"):
            if f"load_{b}" in d:
                x = d[f"load_{b}"]
                lines.append(f"| mpi load ({b}) | {x['pair_f1']} | {x['bcubed_f1']} | {x['false_merge_pairs']:.0f} | "
                             f"{x['review_per_1000_records']} | {x['wall_s']} | {x['records_per_s']} | "
                             f"{x['peak_mb']} |")
        lines += ["", "Reloading the same file changes nothing (all records `unchanged`); the reload took "
                  + ", ".join(f"{d[f'load_{b}']['reload_unchanged_s']} s on {b}" for b in ("sqlite", "postgresql")
                              if f"load_{b}" in d) + ".", ""]
    if "realtime" in data:
        d = data["realtime"]
        lines += [f"Real time against a store of {d['stored_records']:,} records (seeded from a batch resolution "
                  f"of `{d['data']}`), {d['queries']:,} held-out query records of stored persons, in-process, "
                  f"{d['when']}:", "",
                  "| backend | match p50 ms | p95 ms | p99 ms | top-1 right | certain share | certain right | "
                  "ingest rec/s (1 tx each) | ingest p50 ms | ingest rec/s (ingest_frame, 200 per tx) | seed s | "
                  "load avg after |", "|---|---|---|---|---|---|---|---|---|---|---|---|"]
        for b in ("sqlite", "postgresql"):
            if b in d:
                x = d[b]
                lines.append(f"| {b} | {x['match_ms_p50']} | {x['match_ms_p95']} | {x['match_ms_p99']} | "
                             f"{x['match_top1_right']} | {x['certain_share']} | {x['certain_right']} | "
                             f"{x['ingest_records_per_s']} | {x['ingest_ms_p50']} | "
                             f"{x.get('batched_ingest_records_per_s', '')} | {x['seed_s']} | "
                             f"{', '.join(map(str, x.get('load_avg_after', [])))} |")
        if any("batched_ingest_records" in d.get(b, {}) for b in ("sqlite", "postgresql")):
            x = next(d[b] for b in ("sqlite", "postgresql") if "batched_ingest_records" in d.get(b, {}))
            lines += ["", f"Ingest: the first {x['ingest_records']:,} held-out records one transaction each "
                      f"(`ingest`), the other {x['batched_ingest_records']:,} as `mpi load` ingests a file "
                      "(`ingest_frame`, 200 records per transaction; results equal one-by-one ingest). "
                      "Other work on the machine shows in the load average (2 cores)."]
        for b in ("sqlite", "postgresql"):
            runs = d.get(b, {}).get("runs", [])
            if len(runs) > 1:
                lines += ["", f"{b}: {len(runs)} runs, each on a fresh copy of the seeded store; the table gives "
                          "each measure's median. Per run: " + "; ".join(
                              f"{k} " + " / ".join(str(r[k]) for r in runs) for k in SPREAD) + "."]
        m = d["machine"]
        lines += ["", f"Machine: {m['cores']} cores, {m['memory_gb']} GB, Python {m['python']}.", ""]
    if "bulk" in data:
        d = data["bulk"]
        for b in ("sqlite", "postgresql"):
            if b in d:
                x = d[b]
                lines += [f"Bulk `mpi load` of `{d['data']}` ({d['records']:,} records) into an empty {b} store, "
                          f"{x['when']}: {x['wall_s']:,} s wall ({x['records_per_s']} records/s), {x['cpu_s']:,} CPU-s, "
                          f"peak memory {x['peak_rss_mb']:,} MB (largest process)"
                          + (f"; load average after {', '.join(map(str, x['load_avg_after']))}"
                             if x.get("load_avg_after") else "") + ".", ""]
    lines.append("<!-- store:end -->")
    block = "\n".join(lines)
    text = RESULTS_MD.read_text() if RESULTS_MD.exists() else ""
    if "<!-- store:start -->" in text:
        head, rest = text.split("<!-- store:start -->", 1)
        tail = rest.split("<!-- store:end -->", 1)[1] if "<!-- store:end -->" in rest else ""
        text = head + block + tail
    else:
        text = text.rstrip() + "\n\n" + block + "\n"
    RESULTS_MD.write_text(text)


def main() -> None:
    global PG_PREFIX
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("kind", choices=["load", "realtime", "bulk"])
    ap.add_argument("--data", type=Path, required=True, help="a directory with records.csv and truth.csv")
    ap.add_argument("--backends", nargs="+", default=["sqlite", "postgresql"], choices=["sqlite", "postgresql"])
    ap.add_argument("--held-out", type=int, default=2000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--reuse-store", action="store_true",
                    help="realtime: keep a seeded base store per backend and measure on copies of it")
    ap.add_argument("--build-only", action="store_true", help="realtime: build the base stores and stop")
    ap.add_argument("--pg-prefix", default=PG_PREFIX, help="prefix of the PostgreSQL database names")
    ap.add_argument("--repeat", type=int, default=1,
                    help="realtime: measure this many times, each on a fresh copy (needs --reuse-store); "
                         "the medians are reported, every run's figures beside them")
    args = ap.parse_args()
    if args.repeat > 1 and not args.reuse_store:
        ap.error("--repeat needs --reuse-store (each run measures a fresh copy of one seeded store)")
    PG_PREFIX = args.pg_prefix
    with tempfile.TemporaryDirectory(prefix="mpi-bench-") as tmp:
        if args.kind == "load":
            result = bench_load(args.data, args.backends, Path(tmp))
        elif args.kind == "bulk":
            result = bench_bulk(args.data, args.backends, Path(tmp))
        else:
            result = bench_realtime(args.data, args.backends, Path(tmp), args.held_out, args.seed,
                                    args.reuse_store or args.build_only, args.build_only, args.repeat)
            if args.build_only:
                return
    _write(f"load:{args.data.name}" if args.kind == "load" else args.kind, result)


if __name__ == "__main__":
    main()
