"""the plan-id ranges each run of the sweep finished

Revision ID: 0028
Revises: 0027
Create Date: 2026-12-06 21:30:00

A run of track-milestones on a work pool hands its ranges to child runs on several workers,
and a stalled child's ranges to another: a range's row, written in its own transaction, keeps
it from being swept twice in one run and gives the run its counts.
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0028'
down_revision = '0027'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'swept_ranges',
        sa.Column('sweep_id', sa.String(length=36), nullable=False),
        sa.Column('first_plan_id', sa.Integer(), nullable=False),
        sa.Column('last_plan_id', sa.Integer(), nullable=False),
        sa.Column('as_of', sa.Date(), nullable=False),
        sa.Column('flow_run_id', sa.String(length=36), nullable=False),
        sa.Column('done_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('counts', sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint('sweep_id', 'first_plan_id', name=op.f('pk_swept_ranges')),
    )
    op.create_index(op.f('ix_swept_ranges_done_at'), 'swept_ranges', ['done_at'], unique=False)


def downgrade():
    op.drop_index(op.f('ix_swept_ranges_done_at'), table_name='swept_ranges')
    op.drop_table('swept_ranges')
