"""``mpi serve``: run the HTTP API (api.app) under uvicorn.

Settings reach the workers as ``MPI_*`` environment variables (uvicorn's workers import the app
factory afresh). Uvicorn's own access log is off: it prints paths and query strings, which can
carry identifiers; the app logs method, route template, status, time and request id instead.
"""
from __future__ import annotations

import os

from .store.database import close_engine, database_url, make_engine, upgrade


def _log_config(level: str) -> dict:
    return {"version": 1, "disable_existing_loggers": False,
            "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
            "handlers": {"stderr": {"class": "logging.StreamHandler", "formatter": "plain",
                                    "stream": "ext://sys.stderr"}},
            "loggers": {"uvicorn": {"handlers": ["stderr"], "level": level.upper(), "propagate": False},
                        "uvicorn.error": {"level": level.upper()},
                        "uvicorn.access": {"handlers": [], "level": "CRITICAL", "propagate": False},
                        "api": {"handlers": ["stderr"], "level": level.upper(), "propagate": False},
                        "mpi": {"handlers": ["stderr"], "level": "WARNING", "propagate": False}}}


def serve(db: str | None, host: str, port: int, workers: int | None, log_level: str = "info") -> int:
    import uvicorn

    url = database_url(db)
    engine = make_engine(url)
    upgrade(engine)  # once, before the workers start
    sqlite = engine.dialect.name == "sqlite"
    close_engine(engine)
    if workers is None:
        workers = 1 if sqlite else max(2, os.cpu_count() or 2)
    os.environ["MPI_DATABASE_URL"] = url
    uvicorn.run("api.app:app_from_env", factory=True, host=host, port=port, workers=workers,
                log_config=_log_config(log_level), access_log=False, server_header=False)
    return 0
