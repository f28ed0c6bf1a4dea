"""API tokens and the hash-chained audit log

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-03 16:40:00
"""
from alembic import op
import sqlalchemy as sa
import sqlmodel


revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None

_S = sqlmodel.sql.sqltypes.AutoString
_T = sqlmodel.sql.sqltypes.UTCDateTime

# The audit log is append-only in the database itself, not only by convention in our code.
_PG_GUARD = """
CREATE OR REPLACE FUNCTION mpi_audit_append_only() RETURNS trigger AS $$
BEGIN
  RAISE EXCEPTION 'audit_event is append-only';
END $$ LANGUAGE plpgsql;
CREATE TRIGGER audit_event_no_update BEFORE UPDATE OR DELETE ON audit_event
  FOR EACH ROW EXECUTE FUNCTION mpi_audit_append_only();
CREATE TRIGGER audit_event_no_truncate BEFORE TRUNCATE ON audit_event
  FOR EACH STATEMENT EXECUTE FUNCTION mpi_audit_append_only();
"""
_SQLITE_GUARD = [
    "CREATE TRIGGER audit_event_no_update BEFORE UPDATE ON audit_event "
    "BEGIN SELECT RAISE(ABORT, 'audit_event is append-only'); END",
    "CREATE TRIGGER audit_event_no_delete BEFORE DELETE ON audit_event "
    "BEGIN SELECT RAISE(ABORT, 'audit_event is append-only'); END",
]


def upgrade() -> None:
    op.create_table('api_token',
    sa.Column('id', _S(length=24), nullable=False),
    sa.Column('token_hash', _S(length=64), nullable=False),
    sa.Column('role', _S(length=20), nullable=False),
    sa.Column('name', _S(length=200), nullable=False),
    sa.Column('created_at', _T(), nullable=False),
    sa.Column('expires_at', _T(), nullable=False),
    sa.Column('revoked_at', _T(), nullable=True),
    sa.Column('created_by', _S(length=200), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('token_hash'),
    )
    op.create_table('audit_event',
    sa.Column('seq', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('at', _T(), nullable=False),
    sa.Column('actor', _S(length=200), nullable=False),
    sa.Column('role', _S(length=20), nullable=False),
    sa.Column('action', _S(length=60), nullable=False),
    sa.Column('target', _S(length=300), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('outcome', _S(length=60), nullable=False),
    sa.Column('request_id', _S(length=64), nullable=False),
    sa.Column('detail', sa.Text(), nullable=False),
    sa.Column('prev_hash', _S(length=64), nullable=False),
    sa.Column('hash', _S(length=64), nullable=False),
    sa.PrimaryKeyConstraint('seq'),
    )
    op.create_table('audit_head',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('hash', _S(length=64), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute(_PG_GUARD)
    else:
        for statement in _SQLITE_GUARD:
            op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS audit_event_no_update ON audit_event")
        op.execute("DROP TRIGGER IF EXISTS audit_event_no_truncate ON audit_event")
        op.execute("DROP FUNCTION IF EXISTS mpi_audit_append_only()")
    op.drop_table('audit_head')
    op.drop_table('audit_event')
    op.drop_table('api_token')
