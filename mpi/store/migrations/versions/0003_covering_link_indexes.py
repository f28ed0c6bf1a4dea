"""Covering indexes for the candidate lookup's two steps through ``link``

Every match and ingest goes from the records found in blocks to their golden records, and from
those golden records to all their members. With ``link``'s rows out of the way (index-only
scans), a store much larger than the database's buffer cache reads about a third fewer pages per
lookup. PostgreSQL only: SQLite's golden-id index already holds the record (the rowid), and
SQLite reads a record's golden id through the rowid, never through a second index.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-03 23:50:00
"""
from alembic import op

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("CREATE INDEX ix_link_record_golden ON link (record) INCLUDE (golden_id)")
        op.execute("DROP INDEX ix_link_golden_id")
        op.execute("CREATE INDEX ix_link_golden_id ON link (golden_id) INCLUDE (record)")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP INDEX ix_link_record_golden")
        op.execute("DROP INDEX ix_link_golden_id")
        op.execute("CREATE INDEX ix_link_golden_id ON link (golden_id)")
