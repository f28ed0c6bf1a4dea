"""Load generator and benchmark of the HTTP service (issue: HTTP service floors).

For each backend asked (sqlite, postgresql) it builds, or with ``--reuse-store`` reuses, a store of
the data set minus ``--held-out`` query records (the split and the seeding of
``store_bench.py realtime``: queries are records whose person has other records, the rest is
resolved in batch and seeded with ``mpi.store.seed.seed_from_resolution``), creates an
integration token, starts ``mpi serve`` as a subprocess on a free port and then measures:

- accuracy: every held-out query, sequentially on one connection, as a FHIR Patient to
  ``POST /fhir/Patient/$match`` (count 5) and as a record to ``POST /match``: top-1 right (the top
  golden record holds a stored record of the query's person, by truth.csv) and how often a
  ``certain`` grade is right; the single-client latency of that pass is kept too;
- load: ``--clients`` concurrent connections (default 16) sending the held-out queries round-robin,
  ``--warmup`` seconds (not counted) then ``--duration`` seconds, per endpoint, in two modes:
  closed loop (each client sends its next request when the previous one answered: saturation
  throughput and its latency) and open loop at ``--fractions`` of that saturation throughput
  (Poisson arrivals scheduled in advance; latency counts from each request's scheduled send time,
  so a request that waits for a free connection is charged for the wait: no coordinated omission);
- the server's peak memory (RSS summed over the ``mpi serve`` process tree, sampled every 0.25 s),
  the CPU seconds of server, client and the rest of the machine during each load phase, and the
  machine.

The client is a minimal HTTP/1.1 keep-alive client on asyncio streams (pre-built request bytes,
Content-Length framing), so that on a small machine it takes little CPU from the server; its own
CPU use is reported with every phase. ``--wrk`` adds a closed-loop cross-check with ``wrk``
(Debian package) for each endpoint. The match rate limit is turned off in the served app
(``MPI_MATCH_RATE_PER_MINUTE=0``: one token sending hundreds of requests a second would otherwise
get 429s by design); everything else runs as ``mpi serve`` does by default, including the
per-request access log (written to a file).

Results: ``benchmarks/http_results.json`` (one entry per data set and backend; a re-run replaces
only its own entries) and the section between ``<!-- http:start -->`` and ``<!-- http:end -->`` of
``benchmarks/RESULTS.md``.

    python benchmarks/http_bench.py --data .bench-data/synthetic-50k --backends sqlite
    python benchmarks/http_bench.py --data .bench-data/synthetic-1m --backends sqlite postgresql
    python benchmarks/http_bench.py --data .bench-data/synthetic-1m --backends sqlite --reuse-store
    python benchmarks/http_bench.py --data .bench-data/synthetic-1m --build-only   # stores only
    python benchmarks/http_bench.py --data .bench-data/synthetic-1m --backends sqlite --reuse-store --profile 30
"""
from __future__ import annotations

import argparse
import asyncio
import gc
import itertools
import json
import os
import re
import resource
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections import Counter
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from store_bench import PG_ADMIN, _fresh_pg, _machine, held_out_split, person_goldens  # noqa: E402

RESULTS_JSON = HERE / "http_results.json"
RESULTS_MD = HERE / "RESULTS.md"
START, END = "<!-- http:start -->", "<!-- http:end -->"
ENDPOINTS = {"fhir": ("/fhir/Patient/$match", "application/fhir+json"), "match": ("/match", "application/json")}
LABEL = {"fhir": "POST /fhir/Patient/$match", "match": "POST /match"}
FIELDS = ("first_name", "middle_name", "last_name", "suffix", "dob", "sex", "ssn", "phone", "email", "street",
          "city", "state", "zip")
SSN_SYSTEM = "http://hl7.org/fhir/sid/us-ssn"


# --------------------------------------------------------------------------------------------- stores
def _store_key(data: Path, held_out: int, seed: int) -> str:
    return f"{data.resolve().name}-h{held_out}-s{seed}"


def _pg_url(name: str) -> str:
    return PG_ADMIN.rsplit("/", 1)[0] + "/" + name


def _pg_name(key: str) -> str:
    return "mpi_bench_http_" + re.sub(r"[^a-z0-9]+", "_", key.lower())


def _pg_exists(name: str) -> bool:
    from sqlalchemy import create_engine, text
    admin = create_engine(PG_ADMIN)
    try:
        with admin.connect() as conn:
            return conn.execute(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}).first() is not None
    finally:
        admin.dispose()


def _data_stamp(data: Path) -> dict:
    st = (data / "records.csv").stat()
    return {"records_csv_bytes": st.st_size, "records_csv_mtime": int(st.st_mtime)}


class Stores:
    """Stores of one data set minus its held-out queries, one per backend, under DATA/../stores/.
    A manifest written after a complete build is what ``--reuse-store`` trusts (with the data
    file's size and mtime, the held-out count and the seed; a SQLite file or PostgreSQL database
    without a matching manifest is rebuilt)."""

    def __init__(self, data: Path, held_out: int, seed: int, stored, reuse: bool) -> None:  # type: ignore[no-untyped-def]
        self.data, self.held_out, self.seed, self.stored, self.reuse = data, held_out, seed, stored, reuse
        self.key = _store_key(data, held_out, seed)
        self.dir = data.resolve().parent / "stores"
        self.dir.mkdir(parents=True, exist_ok=True)
        self._resolution = None
        self.resolve_s: float | None = None

    def manifest_path(self, backend: str) -> Path:
        return self.dir / f"{self.key}-{backend}.json"

    def _usable(self, backend: str) -> dict | None:
        path = self.manifest_path(backend)
        if not path.exists():
            return None
        m = json.loads(path.read_text())
        want = {"data": str(self.data), "held_out": self.held_out, "seed": self.seed, **_data_stamp(self.data)}
        if any(m.get(k) != v for k, v in want.items()):
            return None
        if backend == "sqlite" and not Path(m["url"].removeprefix("sqlite:///")).exists():
            return None
        if backend == "postgresql" and not _pg_exists(_pg_name(self.key)):
            return None
        return m

    def get(self, backend: str) -> dict:
        """The store's manifest (``url`` and how it was built), building the store if needed."""
        if self.reuse:
            m = self._usable(backend)
            if m is not None:
                print(f"[{backend}] reusing {m['url']} (built {m['built']})", flush=True)
                return {**m, "reused": True}
        return {**self._build(backend), "reused": False}

    def _build(self, backend: str) -> dict:
        import mpi
        from mpi.service import MasterPatientIndex
        from mpi.store.seed import seed_from_resolution

        self.manifest_path(backend).unlink(missing_ok=True)
        if self._resolution is None:
            print(f"resolving {len(self.stored):,} records for the seed ...", flush=True)
            t0 = time.perf_counter()
            self._resolution = mpi.resolve(self.stored, validated=True)
            self.resolve_s = round(time.perf_counter() - t0, 1)
        if backend == "sqlite":
            path = self.dir / f"{self.key}.db"
            for suffix in ("", "-wal", "-shm"):
                Path(f"{path}{suffix}").unlink(missing_ok=True)
            url = f"sqlite:///{path}"
        else:
            url = _fresh_pg(_pg_name(self.key))
        print(f"[{backend}] seeding {url} ...", flush=True)
        t0 = time.perf_counter()
        with MasterPatientIndex(url) as store:
            written = seed_from_resolution(store, self.stored, self._resolution)
        seed_s = round(time.perf_counter() - t0, 1)
        m = {"data": str(self.data), "held_out": self.held_out, "seed": self.seed, **_data_stamp(self.data),
             "url": url, "stored_records": len(self.stored), "seeded": written, "resolve_for_seed_s": self.resolve_s,
             "seed_s": seed_s, "built": time.strftime("%Y-%m-%d %H:%M")}
        self.manifest_path(backend).write_text(json.dumps(m, indent=1))
        print(f"[{backend}] seeded in {seed_s} s: {written}", flush=True)
        return m

    def release(self) -> None:
        self._resolution = None
        self.stored = None
        gc.collect()


# --------------------------------------------------------------------------------------------- bodies
def query_patient(row: dict) -> dict:
    """A held-out record as the FHIR R4 Patient a client would send (values as the source has
    them, the same strings ``POST /match`` gets)."""
    v = {k: str(row.get(k) or "").strip() for k in FIELDS}
    p: dict = {"resourceType": "Patient"}
    name: dict = {"use": "official"}
    if v["last_name"]:
        name["family"] = v["last_name"]
    given = [x for x in (v["first_name"], v["middle_name"]) if x]
    if given:
        name["given"] = given
    if v["suffix"]:
        name["suffix"] = [v["suffix"]]
    if len(name) > 1:
        p["name"] = [name]
    if v["dob"]:
        p["birthDate"] = v["dob"]
    if v["sex"]:
        p["gender"] = v["sex"]
    if v["ssn"]:
        p["identifier"] = [{"system": SSN_SYSTEM, "value": v["ssn"]}]
    telecom = [{"system": k, "value": v[k]} for k in ("phone", "email") if v[k]]
    if telecom:
        p["telecom"] = telecom
    address: dict = {}
    if v["street"]:
        address["line"] = [v["street"]]
    for ours, theirs in (("city", "city"), ("state", "state"), ("zip", "postalCode")):
        if v[ours]:
            address[theirs] = v[ours]
    if address:
        p["address"] = [address]
    return p


def _check_mapping(rows: list[dict]) -> None:
    """Every query's Patient maps back (mpi.fhir.patient_to_record) to the same fields, so the two
    endpoints are asked the same question."""
    from mpi.fhir import patient_to_record
    for row in rows:
        back = patient_to_record(query_patient(row))
        for k in FIELDS:
            want = str(row.get(k) or "").strip()
            if want and back.get(k, "") != want:
                raise SystemExit(f"FHIR mapping loses {k} of query {row['record_id']}")


def bodies(rows: list[dict], endpoint: str, count: int) -> list[bytes]:
    out = []
    for row in rows:
        if endpoint == "fhir":
            doc = {"resourceType": "Parameters", "parameter": [{"name": "resource", "resource": query_patient(row)},
                                                               {"name": "count", "valueInteger": count}]}
        else:
            doc = {"record": {k: str(row[k]).strip() for k in FIELDS if str(row.get(k) or "").strip()},
                   "count": count}
        out.append(json.dumps(doc, separators=(",", ":")).encode())
    return out


def requests_for(bodies_: list[bytes], endpoint: str, port: int, token: str) -> list[bytes]:
    path, ctype = ENDPOINTS[endpoint]
    return [(f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nAuthorization: Bearer {token}\r\n"
             f"Content-Type: {ctype}\r\nContent-Length: {len(b)}\r\n\r\n").encode() + b for b in bodies_]


def top_of(endpoint: str, doc: dict) -> tuple[str | None, str | None]:
    """(golden id, grade) of the best candidate of an answer, or (None, None) when there is none."""
    if endpoint == "fhir":
        entries = [e for e in doc.get("entry", []) if e.get("search", {}).get("mode") == "match"]
        if not entries:
            return None, None
        grade = next((x["valueCode"] for x in entries[0]["search"].get("extension", [])
                      if x.get("url", "").endswith("match-grade")), None)
        return entries[0]["resource"]["id"], grade
    cands = doc.get("candidates", [])
    return (cands[0]["golden_id"], cands[0]["grade"]) if cands else (None, None)


# --------------------------------------------------------------------------------------------- client
class Conn:
    """One HTTP/1.1 keep-alive connection: writes pre-built requests, reads Content-Length bodies."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def send(self, request: bytes, timeout: float) -> tuple[int, bytes]:
        try:
            async with asyncio.timeout(timeout):
                if self.writer is None:
                    self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)
                    self.writer.transport.set_write_buffer_limits(high=1 << 20)
                self.writer.write(request)
                head = await self.reader.readuntil(b"\r\n\r\n")  # type: ignore[union-attr]
                status = int(head[9:12])
                low = head.lower()
                i = low.find(b"\r\ncontent-length:")
                if i < 0:
                    raise ValueError("no Content-Length")
                n = int(low[i + 17:low.find(b"\r\n", i + 2)])
                body = await self.reader.readexactly(n)  # type: ignore[union-attr]
                if b"\r\nconnection: close" in low:
                    self.close()
                return status, body
        except (OSError, ValueError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, TimeoutError):
            self.close()
            return 0, b""

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None


def _pcts(ms: list[float]) -> dict:
    if not ms:
        return {"p50_ms": None, "p95_ms": None, "p99_ms": None, "max_ms": None}
    a = np.asarray(ms)
    return {"p50_ms": round(float(np.percentile(a, 50)), 2), "p95_ms": round(float(np.percentile(a, 95)), 2),
            "p99_ms": round(float(np.percentile(a, 99)), 2), "max_ms": round(float(a.max()), 2)}


async def _accuracy(port: int, reqs: list[bytes], endpoint: str, rows: list[dict], truth, person_store: dict,
                    timeout: float) -> dict:
    conn = Conn(port)
    for r in reqs[:20]:  # load the model in the worker(s) and warm caches
        await conn.send(r, timeout)
    lat, errors, top1_ok, none, certain, certain_ok = [], 0, 0, 0, 0, 0
    grades: Counter = Counter()
    for req, row in zip(reqs, rows):
        t0 = time.perf_counter()
        status, body = await conn.send(req, timeout)
        lat.append((time.perf_counter() - t0) * 1000)
        if status != 200:
            errors += 1
            continue
        gid, grade = top_of(endpoint, json.loads(body))
        right = gid is not None and gid in person_store.get(truth[row["record_id"]], ())
        top1_ok += right
        none += gid is None
        grades[grade or "none"] += 1
        if grade == "certain":
            certain += 1
            certain_ok += right
    conn.close()
    n = len(rows)
    return {"queries": n, "errors": errors, "top1_right": round(top1_ok / n, 4), "top1_wrong": n - top1_ok - none - errors,
            "no_candidate": none, "certain_share": round(certain / n, 4), "certain": certain,
            "certain_wrong": certain - certain_ok, "certain_right": round(certain_ok / max(certain, 1), 4),
            "grades": dict(grades), "single_client": _pcts(lat)}


def _postgres_cpu_s() -> float:
    """CPU seconds of the PostgreSQL server's processes (all of them: the machine's one server)."""
    import psutil
    total = 0.0
    for p in psutil.process_iter(["name", "cpu_times"]):
        if p.info["name"] in ("postgres", "postmaster") and p.info["cpu_times"] is not None:
            total += p.info["cpu_times"].user + p.info["cpu_times"].system
    return total


class Usage:
    """CPU seconds of the server tree, this client and the whole machine between start and stop."""

    def __init__(self, server: "Server") -> None:
        self.server = server

    def __enter__(self) -> "Usage":
        import psutil
        self.t0 = time.perf_counter()
        self.s0, self.c0, self.m0 = self.server.stats(), time.process_time(), psutil.cpu_times()
        self.pg0 = _postgres_cpu_s()
        return self

    def __exit__(self, *exc: object) -> None:
        import psutil
        m1 = psutil.cpu_times()
        self.wall = time.perf_counter() - self.t0
        s1 = self.server.stats()
        self.server_s, self.server_sys_s, self.faults = s1[0] - self.s0[0], s1[1] - self.s0[1], s1[2] - self.s0[2]
        self.client_s = time.process_time() - self.c0

        def busy(m) -> float:  # type: ignore[no-untyped-def]
            return sum(m) - m.idle - getattr(m, "iowait", 0.0)

        self.machine_s = busy(m1) - busy(self.m0)
        self.pg_s = max(0.0, _postgres_cpu_s() - self.pg0)
        self.idle_s = m1.idle - self.m0.idle
        self.iowait_s = getattr(m1, "iowait", 0.0) - getattr(self.m0, "iowait", 0.0)

    def as_dict(self, requests: int) -> dict:
        other = max(0.0, self.machine_s - self.server_s - self.client_s - self.pg_s)
        return {"server_cpu_s": round(self.server_s, 1), "client_cpu_s": round(self.client_s, 1),
                "postgres_cpu_s": round(self.pg_s, 1),
                "postgres_cpu_ms_per_request": round(self.pg_s * 1000 / max(requests, 1), 2),
                "other_cpu_s": round(other, 1), "other_cores": round(other / self.wall, 2),
                "server_cores": round(self.server_s / self.wall, 2), "server_sys_cpu_s": round(self.server_sys_s, 1),
                "server_major_faults": self.faults, "machine_idle_cores": round(self.idle_s / self.wall, 2),
                "machine_iowait_cores": round(self.iowait_s / self.wall, 2),
                "server_cpu_ms_per_request": round(self.server_s * 1000 / max(requests, 1), 2),
                "client_cpu_ms_per_request": round(self.client_s * 1000 / max(requests, 1), 3)}


async def _closed(port: int, reqs: list[bytes], clients: int, warmup: float, duration: float, timeout: float,
                  server: "Server") -> dict:
    conns = [Conn(port) for _ in range(clients)]
    counter = itertools.count()
    lat: list[float] = []
    statuses: Counter = Counter()
    t_start = time.perf_counter()
    t_measure, t_end = t_start + warmup, t_start + warmup + duration
    usage = Usage(server)
    spread: list[int] = []

    async def client(c: Conn) -> None:
        while True:
            t0 = time.perf_counter()
            if t0 >= t_end:
                return
            status, _ = await c.send(reqs[next(counter) % len(reqs)], timeout)
            if t0 >= t_measure:
                lat.append((time.perf_counter() - t0) * 1000)
                statuses[status] += 1

    async def meter() -> None:
        await asyncio.sleep(max(0.0, t_measure - time.perf_counter()))
        usage.__enter__()
        spread.extend(server.connections_per_worker())
        await asyncio.sleep(max(0.0, t_end - time.perf_counter()))
        usage.__exit__()

    await asyncio.gather(meter(), *(client(c) for c in conns))
    for c in conns:
        c.close()
    n = len(lat)
    return {"mode": "closed", "clients": clients, "duration_s": duration, "requests": n,
            "throughput_rps": round(n / duration, 1), "errors": n - statuses.get(200, 0),
            "statuses": {str(k): v for k, v in statuses.items()}, **_pcts(lat), **usage.as_dict(n),
            "connections_per_worker": spread}


async def _open(port: int, reqs: list[bytes], clients: int, rate: float, warmup: float, duration: float,
                timeout: float, seed: int, server: "Server") -> dict:
    """Poisson arrivals at ``rate``/s scheduled before the run; each of ``clients`` connections
    takes the next scheduled request when it is free and sends it at its time (or at once when it
    is already late). Latency = answer time - scheduled time."""
    rng = np.random.default_rng(seed)
    total = warmup + duration
    times = np.cumsum(rng.exponential(1.0 / rate, size=int(rate * total * 1.3) + 100))
    times = times[times < total]
    if times.size == 0:
        raise SystemExit(f"offered rate {rate}/s gives no request in {total} s")
    conns = [Conn(port) for _ in range(clients)]
    nxt = itertools.count()
    lat: list[float] = []
    service: list[float] = []
    late: list[float] = []
    statuses: Counter = Counter()
    usage = Usage(server)
    spread: list[int] = []
    start = time.perf_counter() + 0.1

    async def client(c: Conn) -> None:
        while True:
            i = next(nxt)
            if i >= times.size:
                return
            scheduled = start + times[i]
            delay = scheduled - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            sent = time.perf_counter()
            status, _ = await c.send(reqs[i % len(reqs)], timeout)
            done = time.perf_counter()
            if times[i] >= warmup:
                lat.append((done - scheduled) * 1000)
                service.append((done - sent) * 1000)
                late.append((sent - scheduled) * 1000)
                statuses[status] += 1

    async def meter() -> None:
        await asyncio.sleep(max(0.0, start + warmup - time.perf_counter()))
        usage.__enter__()
        spread.extend(server.connections_per_worker())
        await asyncio.sleep(max(0.0, start + total - time.perf_counter()))
        usage.__exit__()

    await asyncio.gather(meter(), *(client(c) for c in conns))
    for c in conns:
        c.close()
    n = len(lat)
    return {"mode": "open", "clients": clients, "offered_rps": round(rate, 1), "duration_s": duration,
            "requests": n, "throughput_rps": round(n / duration, 1), "errors": n - statuses.get(200, 0),
            "statuses": {str(k): v for k, v in statuses.items()}, **_pcts(lat),
            "service_time": _pcts(service), "send_lateness": _pcts(late), **usage.as_dict(n),
            "connections_per_worker": spread}


def _wrk(port: int, bodies_: list[bytes], endpoint: str, token: str, clients: int, warmup: float,
         duration: float, tmp: Path, server: "Server") -> dict:
    """Closed-loop cross-check with wrk (C, event loop): the same bodies round-robin."""
    path, ctype = ENDPOINTS[endpoint]
    data = tmp / f"{endpoint}.bodies"
    data.write_bytes(b"\n".join(bodies_) + b"\n")
    script = tmp / f"{endpoint}.lua"
    script.write_text(f"""
local bodies = {{}}
for line in io.lines("{data}") do bodies[#bodies + 1] = line end
local i = 0
wrk.method = "POST"
wrk.headers["Content-Type"] = "{ctype}"
wrk.headers["Authorization"] = "Bearer {token}"
request = function()
  i = i % #bodies + 1
  return wrk.format(nil, "{path}", nil, bodies[i])
end
done = function(summary, latency, requests)
  io.write(string.format('WRKJSON {{"requests": %d, "duration_us": %d, "non2xx": %d, "errors": %d, '
    .. '"p50_us": %d, "p95_us": %d, "p99_us": %d, "max_us": %d}}\\n', summary.requests, summary.duration,
    summary.errors.status, summary.errors.connect + summary.errors.read + summary.errors.write
    + summary.errors.timeout, latency:percentile(50), latency:percentile(95), latency:percentile(99), latency.max))
end
""")
    url = f"http://127.0.0.1:{port}"
    threads = str(min(2, clients))
    if warmup > 0:
        subprocess.run(["wrk", "-t", threads, "-c", str(clients), "-d", f"{int(warmup)}s", "-s", str(script), url],
                       check=True, capture_output=True)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    with Usage(server) as usage:
        out = subprocess.run(["wrk", "-t", threads, "-c", str(clients), "-d", f"{int(duration)}s", "--timeout",
                              "30s", "-s", str(script), url], check=True, capture_output=True, text=True).stdout
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    m = json.loads(out.split("WRKJSON", 1)[1].strip().splitlines()[0])
    secs = m["duration_us"] / 1e6
    cost = usage.as_dict(m["requests"])
    wrk_cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    cost.update(client_cpu_s=round(wrk_cpu, 1), other_cpu_s=round(max(0.0, cost["other_cpu_s"] - wrk_cpu), 1),
                client_cpu_ms_per_request=round(wrk_cpu * 1000 / max(m["requests"], 1), 3))
    cost["other_cores"] = round(cost["other_cpu_s"] / usage.wall, 2)
    # PostgreSQL's CPU is not told apart reliably around wrk's run: left out (it is in other_cpu_s)
    cost.pop("postgres_cpu_s")
    cost.pop("postgres_cpu_ms_per_request")
    return {"mode": "closed (wrk)", "clients": clients, "duration_s": round(secs, 1), "requests": m["requests"],
            "throughput_rps": round(m["requests"] / secs, 1), "errors": m["non2xx"] + m["errors"],
            "p50_ms": m["p50_us"] / 1000, "p95_ms": m["p95_us"] / 1000, "p99_ms": m["p99_us"] / 1000,
            "max_ms": m["max_us"] / 1000, "wrk_threads": int(threads), **cost}


# --------------------------------------------------------------------------------------------- server
class Server:
    """``mpi serve`` as a subprocess on a free port, with its process tree's memory sampled."""

    def __init__(self, url: str, workers: int, log: Path) -> None:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        exe = shutil.which("mpi") or str(Path(sys.executable).parent / "mpi")
        self.cmd = [exe, "serve", "--db", url, "--host", "127.0.0.1", "--port", str(self.port),
                    "--workers", str(workers)]
        env = {**os.environ, "MPI_MATCH_RATE_PER_MINUTE": "0"}
        self.log = open(log, "w")
        self.proc = subprocess.Popen(self.cmd, env=env, stdout=self.log, stderr=subprocess.STDOUT,
                                     start_new_session=True)
        self.peak_rss = 0
        self.peak_single = 0
        self.peak_anon = 0  # private memory (heap: SQLite page caches, Python objects), not file pages
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        self._wait_healthy()

    def _tree(self) -> list:
        import psutil
        try:
            root = psutil.Process(self.proc.pid)
            return [root, *root.children(recursive=True)]
        except psutil.NoSuchProcess:
            return []

    def _sample(self) -> None:
        import psutil
        while not self._stop.is_set():
            total = single = anon = 0
            for p in self._tree():
                try:
                    rss = p.memory_info().rss
                    with open(f"/proc/{p.pid}/status") as fh:
                        anon += next((int(x.split()[1]) * 1024 for x in fh if x.startswith("RssAnon:")), 0)
                except (psutil.Error, OSError):
                    continue
                total += rss
                single = max(single, rss)
            self.peak_rss, self.peak_single = max(self.peak_rss, total), max(self.peak_single, single)
            self.peak_anon = max(self.peak_anon, anon)
            self._stop.wait(0.25)

    def connections_per_worker(self) -> list[int]:
        """Established client connections held by each worker process (uvicorn's workers share
        one listening socket: which worker gets a connection is decided when it is accepted)."""
        import psutil
        counts = []
        tree = self._tree()
        for p in tree if len(tree) == 1 else tree[1:]:
            try:
                if len(tree) > 1 and "spawn_main" not in " ".join(p.cmdline()):
                    continue  # not a worker (e.g. multiprocessing's resource tracker)
                conns = getattr(p, "net_connections", p.connections)(kind="tcp")
            except psutil.Error:
                continue
            counts.append(sum(1 for c in conns if c.status == psutil.CONN_ESTABLISHED and c.laddr
                              and c.laddr.port == self.port))
        return sorted(counts, reverse=True)

    def cpu_s(self) -> float:
        return self.stats()[0]

    def stats(self) -> tuple[float, float, int]:
        """CPU seconds (user + system), system CPU seconds and major page faults (pages read
        from disk) of the process tree so far."""
        import psutil
        total = system = 0.0
        faults = 0
        for p in self._tree():
            try:
                t = p.cpu_times()
                with open(f"/proc/{p.pid}/stat") as fh:
                    faults += int(fh.read().rsplit(")", 1)[1].split()[9])
            except (psutil.Error, OSError, IndexError, ValueError):
                continue
            total += t.user + t.system
            system += t.system
        return total, system, faults

    def _wait_healthy(self) -> None:
        deadline = time.time() + 180
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise SystemExit(f"mpi serve exited with {self.proc.returncode}; see {self.log.name}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/health", timeout=2) as r:
                    if r.status == 200:
                        return
            except OSError:
                pass
            time.sleep(0.2)
        self.stop()
        raise SystemExit(f"mpi serve did not answer /health in 180 s; see {self.log.name}")

    def stop(self) -> None:
        self._stop.set()
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self.log.close()


# --------------------------------------------------------------------------------------------- profile
# Where a worker's time goes: py-spy samples (--gil: the thread holding the GIL, i.e. the Python
# work of the process; C code that releases the GIL, such as SQLite executing a query or waiting
# for PostgreSQL, is not sampled) put in the first category any of whose markers is on the stack.
PROFILE_RULES = [
    ("FHIR Patient -> record", ("patient_to_record", "_match_parameters")),
    ("FHIR Bundle out", ("golden_patient", "match_bundle", "_base (api/routes/fhir")),
    ("match: DB candidate lookup", ("_candidate_members", "MasterPatientIndex._tx", "_blocks (mpi/service")),
    ("match: normalise + blocking keys", ("Matcher.normalise", "Matcher.keys", "canonical_raw", "normalise_record")),
    ("match: explanation", ("explanation",)),
    ("match: score pairs", ("Matcher.score", "mpi/compare/", "mpi/model/")),
    ("match: choose/rank", ("Matcher.choose", "mpi/decision", "mpi/ambiguity")),
    ("match: other", ("MasterPatientIndex.match", "Matcher.matcher")),
    ("auth: token -> principal, role check", ("authenticate", "HTTPBearer", "token_hash", "caller (api/deps",
                                              "allow.<locals>.check", "context_for.<locals>.build")),
    ("response model (MatchOut)", ("MatchOut", "CandidateOut")),
    ("request body: read, JSON decode, pydantic", ("json/decoder", "json/__init__", "request_body_to_args",
                                                   "_get_body", "Request.body", "Request.json", "validate_python",
                                                   "pydantic")),
    ("response: serialise + render JSON", ("serialize_response", "render (", "jsonable_encoder", "json/encoder")),
    ("access log + request id", ("logging/", "access_log", "uuid", "new_request_id")),
    ("route function body (building the answer)", ("leaf:(api/routes/",)),
    ("threadpool hand-offs (anyio: sync route and sync dependencies)", ("anyio", "run_sync", "call_soon_threadsafe", "_write_to_self",
                                                 "threading.py", "queue.py", "to_thread")),
    ("HTTP + ASGI (uvicorn h11, starlette, fastapi, middleware)", ("uvicorn/", "h11", "starlette/", "fastapi/",
                                                                   "api/middleware", "api/limits", "api/app")),
    ("asyncio event loop", ("asyncio/", "selectors.py")),
    ("SQLAlchemy/numpy/other (stack cut short)", ("",)),
]


def _classify(collapsed: Path) -> tuple[int, dict]:
    counts: Counter = Counter()
    total = 0
    for line in collapsed.read_text().splitlines():
        if not line.strip():
            continue
        stack, n = line.rsplit(" ", 1)
        parts = stack.split(";")[1:]  # the first element names the thread
        frames, leaf = ";".join(parts), parts[-1] if parts else ""
        total += int(n)
        counts[next(name for name, keys in PROFILE_RULES
                    if any(k[5:] in leaf if k.startswith("leaf:") else k in frames for k in keys))] += int(n)
    return total, {name: round(counts[name] / max(total, 1), 4) for name, _ in PROFILE_RULES if counts[name]}


def profile_backend(backend: str, manifest: dict, rows: list[dict], args: argparse.Namespace, tmp: Path) -> dict:
    """One worker (``mpi serve --workers 1``) under closed-loop load from 4 clients, sampled by py-spy."""
    from mpi.service import MasterPatientIndex
    from mpi.tokens import TokenStore

    with MasterPatientIndex(manifest["url"]) as store:
        token = TokenStore(store.engine).create("integration", name="http-bench-profile", days=1).token
    server = Server(manifest["url"], 1, tmp / f"serve-profile-{backend}.log")
    out: dict = {"backend": backend, "workers": 1, "clients": 4, "seconds": args.profile, "endpoints": {}}
    try:
        for endpoint in args.endpoints:
            reqs = requests_for(bodies(rows, endpoint, args.count), endpoint, server.port, token)
            asyncio.run(_closed(server.port, reqs, 4, 0, 5, args.timeout, server))  # warm
            collapsed = tmp / f"profile-{backend}-{endpoint}.txt"
            spy = subprocess.Popen(["py-spy", "record", "--pid", str(server.proc.pid), "--rate", "250", "--format",
                                    "raw", "--threads", "--gil", "--nonblocking", "--duration", str(int(args.profile)),
                                    "-o", str(collapsed)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            load = asyncio.run(_closed(server.port, reqs, 4, 0, args.profile, args.timeout, server))
            spy.wait()
            samples, shares = _classify(collapsed)
            per_req = load["server_cpu_ms_per_request"]
            out["endpoints"][endpoint] = {"samples": samples, "throughput_rps": load["throughput_rps"],
                                          "server_cpu_ms_per_request": per_req, "other_cores": load["other_cores"],
                                          "shares": shares,
                                          "ms_per_request": {k: round(v * per_req, 2) for k, v in shares.items()}}
            print(f"[{backend}] profile {LABEL[endpoint]}: {out['endpoints'][endpoint]}", flush=True)
    finally:
        server.stop()
    return out


# --------------------------------------------------------------------------------------------- run
def bench_backend(backend: str, manifest: dict, rows: list[dict], truth, args: argparse.Namespace, tmp: Path) -> dict:
    from mpi.service import MasterPatientIndex
    from mpi.tokens import TokenStore

    url = manifest["url"]
    with MasterPatientIndex(url) as store:
        person_store = person_goldens(store, truth)
        counts = store.counts()
        token = TokenStore(store.engine).create("integration", name="http-bench", days=1).token
    log = tmp / f"serve-{backend}.log"
    server = Server(url, args.workers, log)
    print(f"[{backend}] {' '.join(server.cmd)} (pid {server.proc.pid})", flush=True)
    out: dict = {"backend": backend, "store": {k: manifest.get(k) for k in
                                               ("url", "stored_records", "resolve_for_seed_s", "seed_s", "built",
                                                "reused")},
                 "store_counts": counts, "workers": args.workers, "clients": args.clients,
                 "serve_command": " ".join(shlex.quote(c) for c in server.cmd[1:]).replace(str(HERE.parent) + "/", ""),
                 "accuracy": {}, "load": {}}
    try:
        for endpoint in args.endpoints:
            bodies_ = bodies(rows, endpoint, args.count)
            reqs = requests_for(bodies_, endpoint, server.port, token)
            acc = asyncio.run(_accuracy(server.port, reqs, endpoint, rows, truth, person_store, args.timeout))
            out["accuracy"][endpoint] = acc
            print(f"[{backend}] accuracy {LABEL[endpoint]}: {acc}", flush=True)
        if not args.skip_load:
            for endpoint in args.endpoints:
                bodies_ = bodies(rows, endpoint, args.count)
                reqs = requests_for(bodies_, endpoint, server.port, token)
                phases = []
                closed = asyncio.run(_closed(server.port, reqs, args.clients, args.warmup, args.duration,
                                             args.timeout, server))
                phases.append(closed)
                print(f"[{backend}] {LABEL[endpoint]} closed: {closed}", flush=True)
                offered = [(closed["throughput_rps"] * f, f) for f in args.fractions]
                offered += [(float(r), r / closed["throughput_rps"]) for r in args.rates]
                for k, (rate, frac) in enumerate(offered):
                    res = asyncio.run(_open(server.port, reqs, args.clients, rate, args.warmup, args.duration,
                                            args.timeout, args.seed + k, server))
                    res["fraction_of_saturation"] = round(frac, 3)
                    phases.append(res)
                    print(f"[{backend}] {LABEL[endpoint]} open {rate:.1f}/s ({frac:.0%}): {res}", flush=True)
                if args.wrk:
                    res = _wrk(server.port, bodies_, endpoint, token, args.clients, args.warmup, args.duration, tmp,
                               server)
                    phases.append(res)
                    print(f"[{backend}] {LABEL[endpoint]} wrk: {res}", flush=True)
                out["load"][endpoint] = phases
    finally:
        server.stop()
    out["server_peak_rss_mb"] = round(server.peak_rss / 2**20)
    out["server_peak_process_rss_mb"] = round(server.peak_single / 2**20)
    out["server_peak_anon_mb"] = round(server.peak_anon / 2**20)
    log_lines = log.read_text(errors="replace").splitlines()
    out["server_log_errors"] = [x for x in log_lines if " ERROR " in x or "Traceback" in x][:10]
    return out


def run(args: argparse.Namespace) -> None:
    stored, queries, truth = held_out_split(args.data, args.held_out, args.seed)
    rows = queries.to_dict("records")
    _check_mapping(rows)
    stores = Stores(args.data, args.held_out, args.seed, stored, args.reuse_store)
    manifests = {b: stores.get(b) for b in args.backends}
    stores.release()
    del stored, queries
    gc.collect()
    if args.build_only:
        return
    results = {}
    with tempfile.TemporaryDirectory(prefix="mpi-http-bench-") as tmp:
        for backend in args.backends:
            meta = {"data": str(args.data), "held_out": args.held_out, "seed": args.seed,
                    "command": "python benchmarks/http_bench.py " + " ".join(shlex.quote(a) for a in sys.argv[1:]),
                    "machine": _machine(), "repo": _repo(), "when": time.strftime("%Y-%m-%d %H:%M"),
                    "load_avg_at_start": [round(x, 2) for x in os.getloadavg()]}
            if args.profile:
                if shutil.which("py-spy") is None:
                    raise SystemExit("--profile needs py-spy (pip install py-spy)")
                r = profile_backend(backend, manifests[backend], rows, args, Path(tmp))
                results[f"{args.data.name}/{backend}/profile"] = {**r, **meta}
            else:
                r = bench_backend(backend, manifests[backend], rows, truth, args, Path(tmp))
                suffix = "" if args.workers == 2 else f"/workers{args.workers}"
                results[f"{args.data.name}/{backend}{suffix}"] = {**r, **meta}
            _write(results)


def _repo() -> dict:
    """The commit served, and the files of the served code (api/, mpi/) that differ from it."""
    def git(*a: str) -> str:
        return subprocess.run(["git", *a], cwd=HERE.parent, capture_output=True, text=True).stdout.strip()
    return {"commit": git("rev-parse", "--short", "HEAD"),
            "uncommitted": git("status", "--porcelain", "--", "api", "mpi").splitlines()}


def _floor(p: dict) -> str:
    ok = p["p50_ms"] is not None and p["p50_ms"] <= 10 and p["p99_ms"] <= 50 and p["errors"] == 0
    return "yes" if ok else "no"


def _write(new: dict) -> None:
    data = json.loads(RESULTS_JSON.read_text()) if RESULTS_JSON.exists() else {}
    for key, r in new.items():
        old = data.get(key)
        if old is not None and r.get("accuracy") and not r.get("load") and old.get("load"):
            # an accuracy-only re-run keeps the earlier load figures, and says where they came from
            r = {**r, "load": old["load"], "load_from": old.get("load_from") or {
                "command": old["command"], "when": old["when"], "server_peak_rss_mb": old["server_peak_rss_mb"]}}
        data[key] = r
    RESULTS_JSON.write_text(json.dumps(data, indent=1) + "\n")
    _write_markdown(data)


def _fmt(x) -> str:  # type: ignore[no-untyped-def]
    return "" if x is None else (f"{x:,.1f}" if isinstance(x, float) and x >= 100 else f"{x}")


def _write_markdown(data: dict) -> None:
    lines = [START, "## HTTP service (`benchmarks/http_bench.py`)", ""]
    for key in sorted(data, key=lambda k: (not k.startswith("synthetic-1m"), k)):
        r = data[key]
        if key == "notes" or key.endswith("/profile"):
            continue
        m = r["machine"]
        st = r["store"]
        lines += [f"### `{r['data']}`, {r['backend']}: {r['store_counts']['records']:,} stored records, "
                  f"{r['store_counts']['golden_records']:,} golden records, {r['held_out']:,} held-out queries",
                  "", f"{r['when']}; `mpi {r['serve_command']}` ({r['workers']} workers, match rate limit off); "
                  f"machine: {m['cores']} cores, {m['memory_gb']} GB, Python {m['python']}; load average at start "
                  f"{', '.join(str(x) for x in r.get('load_avg_at_start', []))}. Store "
                  + ("reused" if st.get("reused") else "built in this run")
                  + f" (batch resolution {st.get('resolve_for_seed_s')} s, seed {st.get('seed_s')} s, {st.get('built')}).",
                  "", f"Reproduce: `{r['command']}`"
                  + (f" (served code: commit {r['repo']['commit']}" + (", with uncommitted changes in "
                     + ", ".join(sorted({x[3:] for x in r['repo']['uncommitted']})) if r['repo']['uncommitted'] else "")
                     + ")" if r.get("repo") else ""), ""]
        if r.get("accuracy"):
            lines += ["| endpoint | top-1 right | certain share | certain right (wrong) | no candidate | errors | "
                      "floors (top-1 >= 0.99, certain >= 0.999) | 1-client p50 ms | p99 ms |",
                      "|---|---|---|---|---|---|---|---|---|"]
            for ep, a in r["accuracy"].items():
                sc = a["single_client"]
                ok = a["top1_right"] >= 0.99 and a["certain_right"] >= 0.999 and a["errors"] == 0
                lines.append(f"| {LABEL[ep]} | {a['top1_right']} | {a['certain_share']} | {a['certain_right']} "
                             f"({a['certain_wrong']}) | {a['no_candidate']} | {a['errors']} | {'yes' if ok else 'no'} | "
                             f"{sc['p50_ms']} | {sc['p99_ms']} |")
            lines.append("")
        if r.get("load"):
            lines += ["| endpoint | mode | offered req/s | throughput req/s | p50 ms | p95 ms | p99 ms | max ms | errors | "
                      "p50 <= 10 and p99 <= 50 | server CPU ms/req | PostgreSQL CPU ms/req | client CPU ms/req | "
                      "server cores | iowait cores | other load (cores) |",
                      "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
            for ep, phases in r["load"].items():
                for p in phases:
                    mode = p["mode"] if p["mode"] != "open" else f"open ({p['fraction_of_saturation']:.0%} of closed)"
                    lines.append(f"| {LABEL[ep]} | {mode} | {_fmt(p.get('offered_rps', ''))} | "
                                 f"{_fmt(p['throughput_rps'])} | {p['p50_ms']} | {p['p95_ms']} | {p['p99_ms']} | "
                                 f"{p['max_ms']} | {p['errors']} | {_floor(p)} | {p.get('server_cpu_ms_per_request', '')} | "
                                 f"{p.get('postgres_cpu_ms_per_request', '') if r['backend'] == 'postgresql' else ''} | "
                                 f"{p.get('client_cpu_ms_per_request', '')} | {p.get('server_cores', '')} | "
                                 f"{p.get('machine_iowait_cores', '')} | {p.get('other_cores', '')} |")
            anon = ""
            if "server_peak_anon_mb" in r:
                anon = f"; private (anonymous) memory at its peak: {r['server_peak_anon_mb']:,} MB"
                if r["backend"] == "sqlite":
                    anon += (", the rest of the RSS being pages of the database file mapped by SQLite (mmap), which "
                             "the page cache holds once and RSS counts in every process that maps them")
            lines += ["", f"Server peak RSS (sum over the `mpi serve` process tree): {r['server_peak_rss_mb']:,} MB "
                      f"(largest process {r['server_peak_process_rss_mb']:,} MB){anon}.", ""]
        if r.get("load_from"):
            lines += [f"Load figures from an earlier run ({r['load_from']['when']}): `{r['load_from']['command']}`.", ""]
    profiles = [k for k in sorted(data) if k.endswith("/profile")]
    for key in profiles:
        r = data[key]
        eps = list(r["endpoints"])
        lines += [f"### Where a worker's time goes: `{r['data']}`, {r['backend']} (py-spy)", "",
                  f"{r['when']}: one worker (`--workers 1`), {r['clients']} closed-loop clients, {r['seconds']:.0f} s "
                  f"per endpoint (other work on the machine meanwhile: "
                  f"{', '.join(str(r['endpoints'][e]['other_cores']) for e in eps)} cores), py-spy `--gil` samples (the Python work of the process; SQLite executing a query "
                  "or a wait for PostgreSQL releases the GIL and is not in them) sorted into the first category "
                  "found on the stack; ms/request = share x the worker's CPU ms per request. Reproduce: "
                  f"`{r['command']}`.", "",
                  "| where | " + " | ".join(f"{LABEL[e]} share | ms/req" for e in eps) + " |",
                  "|---|" + "---|---|" * len(eps)]
        cats = [name for name, _ in PROFILE_RULES if any(name in r["endpoints"][e]["shares"] for e in eps)]
        for c in cats:
            cells = []
            for e in eps:
                x = r["endpoints"][e]
                cells.append(f"{x['shares'].get(c, 0):.1%} | {x['ms_per_request'].get(c, 0)}")
            lines.append(f"| {c} | " + " | ".join(cells) + " |")
        lines.append("| **worker CPU per request** | " + " | ".join(
            f"100% | {r['endpoints'][e]['server_cpu_ms_per_request']}" for e in eps) + " |")
        lines.append("")
    for note in data.get("notes", []):
        lines += [note, ""]
    lines.append(END)
    block = "\n".join(lines)
    text = RESULTS_MD.read_text() if RESULTS_MD.exists() else ""
    if START in text:
        head, rest = text.split(START, 1)
        tail = rest.split(END, 1)[1] if END in rest else ""
        text = head + block + tail
    else:
        text = text.rstrip() + "\n\n" + block + "\n"
    RESULTS_MD.write_text(text)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, required=True, help="a directory with records.csv and truth.csv")
    ap.add_argument("--backends", nargs="+", default=["sqlite", "postgresql"], choices=["sqlite", "postgresql"])
    ap.add_argument("--held-out", type=int, default=2000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--reuse-store", action="store_true",
                    help="use the store built earlier for this data set, held-out count and seed if there is one")
    ap.add_argument("--build-only", action="store_true", help="build (or check) the stores and stop")
    ap.add_argument("--workers", type=int, default=2, help="mpi serve --workers")
    ap.add_argument("--clients", type=int, default=16, help="concurrent connections of the load phases")
    ap.add_argument("--endpoints", nargs="+", default=["fhir", "match"], choices=list(ENDPOINTS))
    ap.add_argument("--count", type=int, default=5, help="candidates asked for per query")
    ap.add_argument("--warmup", type=float, default=10.0)
    ap.add_argument("--duration", type=float, default=60.0)
    ap.add_argument("--fractions", type=float, nargs="*", default=[0.5, 0.8],
                    help="open-loop offered rates as fractions of the closed-loop throughput")
    ap.add_argument("--rates", type=float, nargs="*", default=[],
                    help="open-loop offered rates in requests/s (besides --fractions)")
    ap.add_argument("--timeout", type=float, default=30.0, help="seconds before a request counts as an error")
    ap.add_argument("--skip-load", action="store_true", help="accuracy pass only")
    ap.add_argument("--wrk", action="store_true", help="add a closed-loop cross-check with wrk")
    ap.add_argument("--profile", type=float, default=0.0, metavar="SECONDS",
                    help="instead of the benchmark: profile one worker with py-spy for SECONDS per endpoint")
    args = ap.parse_args()
    if args.wrk and shutil.which("wrk") is None:
        raise SystemExit("--wrk needs wrk on PATH (apt-get install wrk)")
    run(args)


if __name__ == "__main__":
    main()
