"""The HTTP service: a thin FastAPI layer over :mod:`mpi` (no matching logic here).

    from api import Settings, create_app
    app = create_app(Settings(database_url="sqlite:///mpi.db"))
"""
from .app import create_app
from .settings import Settings

__all__ = ["Settings", "create_app"]
