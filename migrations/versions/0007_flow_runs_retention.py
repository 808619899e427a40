"""flow-run records; retention of closed cases

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-03 13:30:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None

RETENTION_DUE = 'anonymised_at IS NULL AND closed_at IS NOT NULL'


def upgrade():
    op.create_table('flow_runs',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('flow_name', sa.String(length=80), nullable=False),
    sa.Column('prefect_flow_run_id', sa.String(length=36), nullable=True),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('state', sa.Enum('running', 'succeeded', 'failed', name='flowrunstate', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('counts', sa.JSON(), nullable=False),
    sa.Column('error', sa.String(length=300), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_flow_runs'))
    )
    with op.batch_alter_table('flow_runs', schema=None) as batch_op:
        batch_op.create_index('ix_flow_runs_flow_state', ['flow_name', 'state', 'id'], unique=False)
        batch_op.create_index('ix_flow_runs_started_at', ['started_at'], unique=False)
        batch_op.create_index('ix_flow_runs_state', ['state', 'id'], unique=False)

    with op.batch_alter_table('returnees', schema=None) as batch_op:
        batch_op.add_column(sa.Column('anonymised_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index('ix_returnees_retention_due', ['closed_at', 'id'], unique=False, postgresql_where=sa.text(RETENTION_DUE), sqlite_where=sa.text(RETENTION_DUE))


def downgrade():
    with op.batch_alter_table('flow_runs', schema=None) as batch_op:
        batch_op.drop_index('ix_flow_runs_state')
        batch_op.drop_index('ix_flow_runs_started_at')
        batch_op.drop_index('ix_flow_runs_flow_state')
    op.drop_table('flow_runs')
    with op.batch_alter_table('returnees', schema=None) as batch_op:
        batch_op.drop_index('ix_returnees_retention_due', postgresql_where=sa.text(RETENTION_DUE), sqlite_where=sa.text(RETENTION_DUE))
        batch_op.drop_column('anonymised_at')
