"""Alembic environment: migrations run on the connection mpi.store.database.upgrade hands over,
or on ``sqlalchemy.url`` when run from the alembic command line."""
from alembic import context
from sqlalchemy import engine_from_config, pool
from sqlmodel import SQLModel

from mpi.store import schema  # noqa: F401 - registers the tables

target_metadata = SQLModel.metadata
config = context.config


def run() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        context.configure(connection=connection, target_metadata=target_metadata, render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = engine_from_config(config.get_section(config.config_ini_section) or {}, prefix="sqlalchemy.",
                                poolclass=pool.NullPool)
    with engine.connect() as conn:
        context.configure(connection=conn, target_metadata=target_metadata, render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()


run()
