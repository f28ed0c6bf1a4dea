"""The ``mpi`` command: a thin wrapper over the library (see ../shared/CONTRACT.md)."""
from __future__ import annotations

import argparse
import logging
import os
import sys
import tempfile

from sqlalchemy.exc import OperationalError, SQLAlchemyError
from tqdm import tqdm

from .decision import Thresholds
from .errors import MPIError
from .model.serialise import load_model, save_model
from .pipeline import resolve_frame
from .records import read_records_csv

log = logging.getLogger("mpi")


class _Progress:
    """A tqdm bar per stage on stderr, shown only for runs big enough to wait for."""

    def __init__(self, enabled: bool) -> None:
        self.enabled, self.bar, self.stage = enabled, None, ""

    def __call__(self, stage: str, done: int, total: int) -> None:
        if not self.enabled:
            return
        if stage != self.stage:
            self.close()
            self.stage = stage
            self.bar = tqdm(total=max(total, 1), desc=stage, file=sys.stderr, unit="pair" if stage == "comparing"
                            else "rec", leave=False)
        if self.bar is not None:
            self.bar.n = min(done, self.bar.total)
            self.bar.refresh()

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


def _write_atomic(frame, path: str) -> None:
    """Write CSV to a temporary file beside ``path`` and rename: no partial output on failure."""
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".mpi-", suffix=".csv", dir=directory)
    os.close(fd)
    try:
        frame.to_csv(tmp, index=False)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def _thresholds(args: argparse.Namespace) -> Thresholds:
    return Thresholds(auto_link=args.auto_link, review=args.review)


def cmd_resolve(args: argparse.Namespace) -> int:
    records = read_records_csv(args.records)
    model = load_model(args.model) if args.model else None
    progress = _Progress(not args.quiet and (len(records) >= 20_000 or args.progress))
    try:
        result = resolve_frame(records, model=model, thresholds=_thresholds(args), progress=progress, validated=True)
    finally:
        progress.close()
    outputs = [(result.clusters, args.output)]
    if args.review_output:
        outputs.append((result.review, args.review_output))
    for frame, path in outputs:
        _write_atomic(frame, path)
    s = result.stats
    print(f"mpi: {s['records']} records -> {s['clusters']} clusters; {s['review_pairs']} pairs for review",
          file=sys.stderr)
    return 0


def cmd_train(args: argparse.Namespace) -> int:
    from .blocking import candidate_pairs
    from .compare.table import RecordTable
    from .model.fellegi_sunter import FellegiSunterModel
    from .model.supervised import fit_supervised
    from .normalise.frame import normalise_frame
    from .pipeline import compute_gamma

    records = read_records_csv(args.records)
    norm = normalise_frame(records)
    table = RecordTable.from_frame(norm)
    cand = candidate_pairs(norm)
    gamma, _ = compute_gamma(table, cand.left, cand.right)
    if args.labels:
        left, right, same = _read_labels(args.labels, norm["record_id"])
        labelled, _ = compute_gamma(table, left, right)
        model = fit_supervised(table, left, right, same, labelled, candidate_gamma=gamma)
    else:
        model = FellegiSunterModel(seed=args.seed).fit(table, cand.left, cand.right, gamma)
    version = save_model(model, args.output, {"auto_link": args.auto_link, "review": args.review})
    print(f"mpi: model {version} trained on {len(records)} records -> {args.output}", file=sys.stderr)
    return 0


def cmd_load(args: argparse.Namespace) -> int:
    from .service import MasterPatientIndex

    records = read_records_csv(args.records)
    override = None
    if args.auto_link is not None or args.review is not None:
        override = Thresholds(auto_link=args.auto_link if args.auto_link is not None else Thresholds.auto_link,
                              review=args.review if args.review is not None else Thresholds.review)
    with MasterPatientIndex(args.db, thresholds=override, survivorship=_survivorship(args.survivorship)) as mpi:
        origin = f"learned from {os.path.basename(args.records)}"
        if args.model:
            mpi.learn_model(records, origin=f"file {os.path.basename(args.model)}", model=load_model(args.model))
        elif not mpi.has_model():
            mpi.learn_model(records, origin=origin)
        bar = None if args.quiet else tqdm(total=len(records), desc="loading", unit="rec", file=sys.stderr,
                                             leave=False)

        def progress(done: int, total: int) -> None:
            if bar is not None:
                bar.n = done
                bar.refresh()

        from .audit import auditing

        try:  # an operator's load is a change: each committed batch carries an audit event
            with auditing(_operator("load", f"file {os.path.basename(args.records)}")):
                counts = mpi.ingest_frame(records, batch_size=args.batch_size, progress=progress)
        finally:
            if bar is not None:
                bar.close()
        summary = ", ".join(f"{v} {k}" for k, v in sorted(counts.items()))
        total = mpi.counts()
        print(f"mpi: {len(records)} records loaded ({summary}); the store holds {total['records']} records in "
              f"{total['golden_records']} golden records, {total['open_review_tasks']} open review tasks "
              f"(model {mpi.model_version})", file=sys.stderr)
    return 0


def cmd_seed(args: argparse.Namespace) -> int:
    from .service import MasterPatientIndex
    from .store.database import Conflict
    from .store.seed import seed_from_resolution

    records = read_records_csv(args.records)
    model = load_model(args.model) if args.model else None
    with MasterPatientIndex(args.db) as mpi:
        if mpi.counts()["records"]:
            raise Conflict("seeding needs an empty store; use `mpi load` to add records to one that has some")
    progress = _Progress(not args.quiet)
    try:
        result = resolve_frame(records, model=model, progress=progress, validated=True)
        from .audit import auditing

        with MasterPatientIndex(args.db) as mpi, auditing(_operator("seed", f"file {os.path.basename(args.records)}")):
            written = seed_from_resolution(mpi, records, result, progress=lambda d, t: progress("writing", d, t))
    finally:
        progress.close()
    print(f"mpi: seeded the store with {written['records']} records in {written['golden_records']} golden records "
          f"and {written['review_tasks']} review tasks (batch resolution)", file=sys.stderr)
    return 0


def _survivorship(path: str | None):  # type: ignore[no-untyped-def]
    """A SurvivorshipPolicy from a JSON file ({"default": ..., "fields": {...}, "source_rank": [...]})."""
    import json

    from .errors import InputError
    from .survivorship import SurvivorshipPolicy
    if not path:
        return SurvivorshipPolicy()
    try:
        with open(path, encoding="utf-8") as fh:
            spec = json.load(fh)
        unknown = set(spec) - {"default", "fields", "source_rank"}
        if unknown:
            raise InputError("unknown survivorship setting", column=sorted(unknown)[0])
        return SurvivorshipPolicy(spec.get("default", "most_recent"), dict(spec.get("fields", {})),
                                  tuple(spec.get("source_rank", ())))
    except OSError as exc:
        raise InputError(f"cannot read the survivorship file ({exc.strerror})") from None
    except (json.JSONDecodeError, AttributeError, TypeError):
        raise InputError("the survivorship file must be a JSON object with default, fields, source_rank") from None


def cmd_export(args: argparse.Namespace) -> int:
    from .service import MasterPatientIndex

    with MasterPatientIndex(args.db) as mpi:
        clusters, review = mpi.export()
        labels = mpi.labels() if args.labels_output else None
    outputs = [(clusters, args.output)]
    if args.review_output:
        outputs.append((review, args.review_output))
    if labels is not None:
        labels = labels.assign(same=labels["same"].map({True: "same", False: "different"}))
        outputs.append((labels[["record_id_l", "record_id_r", "same"]], args.labels_output))
    for frame, path in outputs:
        _write_atomic(frame, path)
    print(f"mpi: {len(clusters)} records in {clusters['cluster_id'].nunique()} golden records; "
          f"{len(review)} pairs for review", file=sys.stderr)
    return 0


def _read_labels(path: str, record_ids) -> tuple:
    """Labelled pairs CSV: record_id_l,record_id_r,same (1/0, true/false, same/different)."""
    import numpy as np
    import pandas as pd

    from .errors import InputError
    try:
        labels = pd.read_csv(path, dtype=str, keep_default_na=False)
    except (OSError, UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError):
        raise InputError("cannot read the labels file (expected CSV record_id_l,record_id_r,same)") from None
    for col in ("record_id_l", "record_id_r", "same"):
        if col not in labels.columns:
            raise InputError("missing column in the labels file", column=col)
    position = pd.Series(np.arange(len(record_ids)), index=pd.Index(record_ids))
    for col in ("record_id_l", "record_id_r"):
        unknown = ~labels[col].isin(position.index)
        if unknown.any():
            raise InputError("record id not in the records file", row=int(unknown.to_numpy().argmax()) + 1,
                             column=col)
    truthy = labels["same"].str.strip().str.lower()
    valid = truthy.isin(["1", "0", "true", "false", "same", "different", "yes", "no"])
    if not valid.all():
        raise InputError("label must be 1/0, true/false, same/different", row=int((~valid).to_numpy().argmax()) + 1,
                         column="same")
    same = truthy.isin(["1", "true", "same", "yes"]).to_numpy()
    return (position[labels["record_id_l"]].to_numpy(), position[labels["record_id_r"]].to_numpy(), same)


def _operator(action: str, target: str):  # type: ignore[no-untyped-def]
    """The audit entry of a command-line operator's change (the OS user is the actor)."""
    import getpass

    from .audit import AuditEntry

    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "unknown"
    return AuditEntry(actor=f"cli:{user}", role="operator", action=action, target=target)


def _store_engine(db: str | None):  # type: ignore[no-untyped-def]
    """An engine on the store at ``db``, its schema brought up to date (commands without a model)."""
    from .store.database import make_engine, upgrade

    engine = make_engine(db)
    upgrade(engine)
    return engine


def cmd_serve(args: argparse.Namespace) -> int:
    from .serve import serve

    return serve(args.db, args.host, args.port, args.workers, args.log_level)


def cmd_token_create(args: argparse.Namespace) -> int:
    from .audit import auditing
    from .tokens import TokenStore

    engine = _store_engine(args.db)
    with auditing(_operator("create token", f"role {args.role}")):
        issued = TokenStore(engine).create(args.role, args.name, args.days, created_by=_operator("", "").actor)
    print(issued.token)  # only the token: scripts capture it with $(mpi token create ...)
    return 0


def cmd_token_list(args: argparse.Namespace) -> int:
    from .tokens import TokenStore

    engine = _store_engine(args.db)
    for t in TokenStore(engine).list():
        print(f"{t['id']}\t{t['role']}\t{'live' if t['live'] else 'dead'}\texpires {t['expires_at']}\t{t['name']}")
    return 0


def cmd_token_revoke(args: argparse.Namespace) -> int:
    from .audit import auditing
    from .tokens import TokenStore

    engine = _store_engine(args.db)
    with auditing(_operator("revoke token", f"token {args.token_id}")):
        TokenStore(engine).revoke(args.token_id)
    return 0


def cmd_audit_verify(args: argparse.Namespace) -> int:
    from .audit import AuditLog

    engine = _store_engine(args.db)
    anchor = None
    if args.anchor:
        seq, _, digest = args.anchor.partition(":")
        if not seq.isdigit() or len(digest) != 64:
            print("mpi: error: --anchor takes SEQ:HASH (as printed by an earlier verify)", file=sys.stderr)
            return 2
        anchor = (int(seq), digest)
    report = AuditLog(engine).verify(anchor)
    if report.ok:
        print(f"ok: {report.events} events, head {report.head_seq}:{report.head_hash}")
        return 0
    where = f" at event {report.at_seq}" if report.at_seq is not None else ""
    print(f"TAMPERED{where}: {report.problem} ({report.events} events read)", file=sys.stderr)
    return 1


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="mpi", description="Master patient index: resolve patient records "
                                 "into golden records without merging two people.")
    sub = ap.add_subparsers(dest="command", required=True)

    def thresholds(p: argparse.ArgumentParser) -> None:
        p.add_argument("--auto-link", type=float, default=Thresholds.auto_link,
                       help="match probability at or above which records merge (default %(default)s)")
        p.add_argument("--review", type=float, default=Thresholds.review,
                       help="match probability at or above which a pair goes to review (default %(default)s)")

    r = sub.add_parser("resolve", help="cluster a records CSV into golden records")
    r.add_argument("records")
    r.add_argument("--output", required=True, help="CLUSTERS.csv: record_id,cluster_id")
    r.add_argument("--review-output", help="REVIEW.csv: record_id_l,record_id_r,match_probability")
    r.add_argument("--model", help="a model JSON from `mpi train` (default: learn one from RECORDS)")
    r.add_argument("--progress", action="store_true", help="show progress even for small files")
    r.add_argument("--quiet", action="store_true", help="no progress bar")
    thresholds(r)
    r.set_defaults(func=cmd_resolve)

    t = sub.add_parser("train", help="learn a model (unsupervised) from a records CSV")
    t.add_argument("records")
    t.add_argument("--output", required=True, help="MODEL.json")
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--labels", help="labelled pairs CSV (record_id_l,record_id_r,same): fit supervised "
                   "from stewards' decisions instead of unsupervised EM")
    thresholds(t)
    t.set_defaults(func=cmd_train)

    db_help = "SQLAlchemy database URL (default: $MPI_DATABASE_URL, else the SQLite file mpi.db here)"
    ld = sub.add_parser("load", help="ingest a records CSV into the persistent MPI")
    ld.add_argument("records")
    ld.add_argument("--db", help=db_help)
    ld.add_argument("--model", help="a model JSON to use (default: the store's; with none, learn one from RECORDS)")
    ld.add_argument("--batch-size", type=int, default=200, help="records per transaction (default %(default)s)")
    ld.add_argument("--survivorship", help="JSON survivorship policy: {\"default\": \"most_recent\", \"fields\": "
                    "{\"dob\": \"most_frequent\"}, \"source_rank\": [\"ehr\", \"lab\"]}")
    ld.add_argument("--quiet", action="store_true", help="no progress bar")
    ld.add_argument("--auto-link", type=float, default=None, help="override the model's auto-link threshold")
    ld.add_argument("--review", type=float, default=None, help="override the model's review threshold")
    ld.set_defaults(func=cmd_load)

    sd = sub.add_parser("seed", help="resolve a records CSV in batch and write the result into an EMPTY store "
                        "(fast start from a backlog; `mpi load` instead ingests record by record)")
    sd.add_argument("records")
    sd.add_argument("--db", help=db_help)
    sd.add_argument("--model", help="a model JSON from `mpi train` (default: learn one from RECORDS)")
    sd.add_argument("--quiet", action="store_true", help="no progress bar")
    sd.set_defaults(func=cmd_seed)

    ex = sub.add_parser("export", help="write the store's golden records as CLUSTERS.csv (batch contract)")
    ex.add_argument("--db", help=db_help)
    ex.add_argument("--output", required=True, help="CLUSTERS.csv: record_id,cluster_id (cluster_id = golden id)")
    ex.add_argument("--review-output", help="REVIEW.csv: record_id_l,record_id_r,match_probability")
    ex.add_argument("--labels-output", help="LABELS.csv: stewards' decisions (record_id_l,record_id_r,same), "
                    "the input of `mpi train --labels`")
    ex.set_defaults(func=cmd_export)

    sv = sub.add_parser("serve", help="serve the HTTP API (FHIR $match, PIXm, ingest, review) over a store")
    sv.add_argument("--db", help=db_help)
    sv.add_argument("--host", default="127.0.0.1")
    sv.add_argument("--port", type=int, default=8000)
    sv.add_argument("--workers", type=int, help="worker processes (default: 1 on SQLite, one per core on PostgreSQL)")
    sv.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"])
    sv.set_defaults(func=cmd_serve)

    tk = sub.add_parser("token", help="create, list or revoke the HTTP API's bearer tokens")
    tks = tk.add_subparsers(dest="token_command", required=True)
    tc = tks.add_parser("create", help="create a token and print it (only the token)")
    tc.add_argument("--role", required=True, choices=["integration", "steward", "admin"])
    tc.add_argument("--name", default="", help="who holds it (recorded as the actor in the audit log)")
    tc.add_argument("--days", type=int, default=90, help="days until it expires (default 90)")
    tc.add_argument("--db", help=db_help)
    tc.set_defaults(func=cmd_token_create)
    tl = tks.add_parser("list", help="list tokens (never their secrets)")
    tl.add_argument("--db", help=db_help)
    tl.set_defaults(func=cmd_token_list)
    tr = tks.add_parser("revoke", help="revoke a token by its id")
    tr.add_argument("token_id")
    tr.add_argument("--db", help=db_help)
    tr.set_defaults(func=cmd_token_revoke)

    au = sub.add_parser("audit", help="the tamper-evident audit log")
    aus = au.add_subparsers(dest="audit_command", required=True)
    av = aus.add_parser("verify", help="check the hash chain: finds altered, deleted or reordered events")
    av.add_argument("--db", help=db_help)
    av.add_argument("--anchor", help="SEQ:HASH printed by an earlier verify and kept outside the database")
    av.set_defaults(func=cmd_audit_verify)
    return ap


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="mpi: %(levelname)s %(message)s")
    try:
        return args.func(args)
    except MPIError as exc:
        print(f"mpi: error: {exc}", file=sys.stderr)
        return 2
    except ValueError as exc:  # bad option values (thresholds)
        print(f"mpi: error: {exc}", file=sys.stderr)
        return 2
    except SQLAlchemyError as exc:
        # never the statement or its parameters: they can carry demographics
        orig = getattr(exc, "orig", None) or exc
        first = str(orig).strip().splitlines()[0] if isinstance(exc, OperationalError) and str(orig).strip() else ""
        print(f"mpi: error: database error ({type(orig).__name__}){': ' + first[:200] if first else ''}; "
              f"check --db", file=sys.stderr)
        return 3


if __name__ == "__main__":
    sys.exit(main())
