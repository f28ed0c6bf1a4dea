"""initial schema

Revision ID: 0001
Revises: 
Create Date: 2026-11-25 15:34:20.859412
"""
from alembic import op
import sqlalchemy as sa
import sqlmodel


revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    # generated from mpi.store.schema by alembic --autogenerate, then reviewed
    op.create_table('event',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('kind', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
    sa.Column('actor', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('golden_id', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=True),
    sa.Column('other_golden_id', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=True),
    sa.Column('record', sa.Integer(), nullable=True),
    sa.Column('detail', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('event', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_event_golden_id'), ['golden_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_event_other_golden_id'), ['other_golden_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_event_record'), ['record'], unique=False)

    op.create_table('golden',
    sa.Column('id', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
    sa.Column('status', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('replaced_by', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=True),
    sa.Column('attributes', sa.Text(), nullable=False),
    sa.Column('founder', sa.Integer(), nullable=True),
    sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('updated_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('golden', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_golden_founder'), ['founder'], unique=False)
        batch_op.create_index(batch_op.f('ix_golden_replaced_by'), ['replaced_by'], unique=False)
        batch_op.create_index(batch_op.f('ix_golden_status'), ['status'], unique=False)

    op.create_table('model_version',
    sa.Column('id', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('stats', sa.Text(), nullable=False),
    sa.Column('thresholds', sa.Text(), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('origin', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('model_version', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_model_version_active'), ['active'], unique=False)

    op.create_table('source_record',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('source', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('record_id', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('current_version', sa.Integer(), nullable=False),
    sa.Column('content_hash', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('normalised', sa.Text(), nullable=False),
    sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('updated_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('source', 'record_id', name='uq_source_record')
    )
    with op.batch_alter_table('source_record', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_source_record_record_id'), ['record_id'], unique=False)

    op.create_table('block_key',
    sa.Column('key', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('record', sa.Integer(), nullable=False),
    sa.Column('fine', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['record'], ['source_record.id'], ),
    sa.PrimaryKeyConstraint('key', 'record')
    )
    with op.batch_alter_table('block_key', schema=None) as batch_op:
        batch_op.create_index('ix_block_key_fine', ['fine', 'record'], unique=False)
        batch_op.create_index('ix_block_key_record', ['record'], unique=False)

    op.create_table('link',
    sa.Column('record', sa.Integer(), nullable=False),
    sa.Column('golden_id', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
    sa.Column('state', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('probability', sa.Float(), nullable=False),
    sa.Column('explanation', sa.Text(), nullable=False),
    sa.Column('model_version', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
    sa.Column('actor', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('linked_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['golden_id'], ['golden.id'], ),
    sa.ForeignKeyConstraint(['record'], ['source_record.id'], ),
    sa.PrimaryKeyConstraint('record')
    )
    with op.batch_alter_table('link', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_link_golden_id'), ['golden_id'], unique=False)

    op.create_table('match_label',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('record_a', sa.Integer(), nullable=False),
    sa.Column('record_b', sa.Integer(), nullable=False),
    sa.Column('same', sa.Boolean(), nullable=False),
    sa.Column('actor', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('task_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['record_a'], ['source_record.id'], ),
    sa.ForeignKeyConstraint(['record_b'], ['source_record.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('match_label', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_match_label_record_a'), ['record_a'], unique=False)
        batch_op.create_index(batch_op.f('ix_match_label_record_b'), ['record_b'], unique=False)

    op.create_table('record_version',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('record', sa.Integer(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('content_hash', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('raw', sa.Text(), nullable=False),
    sa.Column('normalised', sa.Text(), nullable=False),
    sa.Column('received_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('actor', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.ForeignKeyConstraint(['record'], ['source_record.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('record', 'version', name='uq_record_version')
    )
    with op.batch_alter_table('record_version', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_record_version_record'), ['record'], unique=False)

    op.create_table('review_task',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
    sa.Column('record', sa.Integer(), nullable=True),
    sa.Column('candidate_record', sa.Integer(), nullable=True),
    sa.Column('golden_id', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=True),
    sa.Column('other_golden_id', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=True),
    sa.Column('probability', sa.Float(), nullable=False),
    sa.Column('priority', sa.Float(), nullable=False),
    sa.Column('rule', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('explanation', sa.Text(), nullable=False),
    sa.Column('status', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('claimed_by', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
    sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('decided_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
    sa.Column('decided_by', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
    sa.Column('decision', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=True),
    sa.Column('reason', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['candidate_record'], ['source_record.id'], ),
    sa.ForeignKeyConstraint(['record'], ['source_record.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('review_task', schema=None) as batch_op:
        batch_op.create_index('ix_review_open', ['status', 'priority'], unique=False)
        batch_op.create_index(batch_op.f('ix_review_task_golden_id'), ['golden_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_review_task_other_golden_id'), ['other_golden_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_review_task_record'), ['record'], unique=False)



def downgrade() -> None:
    # generated from mpi.store.schema by alembic --autogenerate, then reviewed
    with op.batch_alter_table('review_task', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_review_task_record'))
        batch_op.drop_index(batch_op.f('ix_review_task_other_golden_id'))
        batch_op.drop_index(batch_op.f('ix_review_task_golden_id'))
        batch_op.drop_index('ix_review_open')

    op.drop_table('review_task')
    with op.batch_alter_table('record_version', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_record_version_record'))

    op.drop_table('record_version')
    with op.batch_alter_table('match_label', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_match_label_record_b'))
        batch_op.drop_index(batch_op.f('ix_match_label_record_a'))

    op.drop_table('match_label')
    with op.batch_alter_table('link', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_link_golden_id'))

    op.drop_table('link')
    with op.batch_alter_table('block_key', schema=None) as batch_op:
        batch_op.drop_index('ix_block_key_record')
        batch_op.drop_index('ix_block_key_fine')

    op.drop_table('block_key')
    with op.batch_alter_table('source_record', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_source_record_record_id'))

    op.drop_table('source_record')
    with op.batch_alter_table('model_version', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_model_version_active'))

    op.drop_table('model_version')
    with op.batch_alter_table('golden', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_golden_status'))
        batch_op.drop_index(batch_op.f('ix_golden_replaced_by'))
        batch_op.drop_index(batch_op.f('ix_golden_founder'))

    op.drop_table('golden')
    with op.batch_alter_table('event', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_event_record'))
        batch_op.drop_index(batch_op.f('ix_event_other_golden_id'))
        batch_op.drop_index(batch_op.f('ix_event_golden_id'))

    op.drop_table('event')
