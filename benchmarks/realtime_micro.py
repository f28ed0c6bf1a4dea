"""Per-call timings of the real-time path's building blocks (one record against its candidates).

    python benchmarks/realtime_micro.py [records.csv] [--json out.json]

Each function is timed on the records of the file (default: examples/records.csv) and the median
(p50) and 90th percentile per call are printed in milliseconds:

- ``normalise_record``: one raw record dict -> normalised dict
- ``record_keys``: one normalised dict -> its blocking keys
- ``from_records``: a query and 40 candidates (41 normalised dicts) -> RecordTable
- ``gamma_matrix``: the 40 (query, candidate) pairs of that table
- ``score+decide``: the fitted model's weights and decisions for those 40 pairs
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from mpi.blocking.keys import record_keys  # noqa: E402
from mpi.compare.comparisons import gamma_matrix  # noqa: E402
from mpi.compare.table import RecordTable  # noqa: E402
from mpi.decision import decide  # noqa: E402
from mpi.normalise.record import normalise_record  # noqa: E402
from mpi.pipeline import resolve_frame  # noqa: E402
from mpi.population import PopulationStats  # noqa: E402
from mpi.records import read_records_csv  # noqa: E402

CANDIDATES = 40


def _time(fn, inputs: list, repeat: int = 1) -> tuple[float, float]:
    """p50 and p90 milliseconds per call of ``fn(x)`` over ``inputs``."""
    for x in inputs[:20]:  # warm caches and lazy imports
        fn(x)
    times = []
    for _ in range(repeat):
        for x in inputs:
            t0 = time.perf_counter()
            fn(x)
            times.append(time.perf_counter() - t0)
    return float(np.percentile(times, 50) * 1e3), float(np.percentile(times, 90) * 1e3)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("records", nargs="?", default=str(Path(__file__).resolve().parents[1] / "examples" / "records.csv"))
    parser.add_argument("--json", help="also write the timings to this file")
    args = parser.parse_args()

    raw = read_records_csv(args.records)
    result = resolve_frame(raw)
    norm = result.records
    stats = PopulationStats.from_normalised(norm)
    raw_rows = raw.to_dict("records")
    orders = stats.day_order
    norm_rows = norm.to_dict("records")
    rng = np.random.default_rng(0)
    groups = [[norm_rows[i] for i in rng.choice(len(norm_rows), CANDIDATES + 1, replace=False)] for _ in range(200)]
    tables = [RecordTable.from_records(g, stats) for g in groups]
    a = np.zeros(CANDIDATES, dtype=np.int64)
    b = np.arange(1, CANDIDATES + 1, dtype=np.int64)
    gammas = [gamma_matrix(t, a, b) for t in tables]
    model = result.model

    def score_decide(k: int) -> None:
        s = model.score(tables[k], a, b, *gammas[k])
        decide(s, tables[k], result.thresholds)

    timings = {
        "normalise_record": _time(lambda r: normalise_record(r, orders.get(r["source"]), stats.shared), raw_rows),
        "record_keys": _time(record_keys, norm_rows),
        "from_records (41 rows)": _time(lambda g: RecordTable.from_records(g, stats), groups, repeat=3),
        "gamma_matrix (40 pairs)": _time(lambda t: gamma_matrix(t, a, b), tables, repeat=3),
        "score+decide (40 pairs)": _time(score_decide, list(range(len(tables))), repeat=3),
    }
    print(f"{'step':<26}{'p50 ms':>10}{'p90 ms':>10}   (MPI_WORKERS={os.environ.get('MPI_WORKERS', 'unset')})")
    for name, (p50, p90) in timings.items():
        print(f"{name:<26}{p50:>10.3f}{p90:>10.3f}")
    print(f"{'sum of p50':<26}{sum(p for p, _ in timings.values()):>10.3f}")
    if args.json:
        Path(args.json).write_text(json.dumps({k: {"p50_ms": v[0], "p90_ms": v[1]} for k, v in timings.items()},
                                              indent=2))


if __name__ == "__main__":
    main()
