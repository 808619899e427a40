"""monitoring: case counts, spending and figures per partner and per category join the snapshot

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-04 08:30:00

The cells are a cache that every snapshot run replaces whole, so the table is created again
with the new measures and columns rather than altered; the snapshot headers go with the old
cells (the dashboard says there is no snapshot until the next run).
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None

OLD_MEASURES = ('score', 'score_service', 'plan_days', 'milestones', 'closure')
NEW_MEASURES = (*OLD_MEASURES, 'score_partner', 'score_category', 'cases',
                'cases_category', 'plan_days_category', 'milestones_category',
                'closure_category')


def _create(measures, case_columns):
    op.create_table(
        'outcome_cells',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('snapshot_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('measure', sa.Enum(*measures, name='measure', native_enum=False,
                                     create_constraint=True, length=32), nullable=False),
        sa.Column('grant_id', sa.Integer(), nullable=True),
        sa.Column('host_office_id', sa.Integer(), nullable=True),
        sa.Column('return_country_code', sa.String(length=2), nullable=True),
        sa.Column('vulnerable', sa.Boolean(), nullable=False),
        sa.Column('return_month', sa.Date(), nullable=True),
        sa.Column('partner_id', sa.Integer(), nullable=True),
        sa.Column('category', sa.String(length=32), nullable=True),
        sa.Column('office_id', sa.Integer(), nullable=True),
        sa.Column('bucket', sa.String(length=40), nullable=True),
        sa.Column('band', sa.String(length=40), nullable=True),
        sa.Column('n', sa.Integer(), nullable=False),
        sa.Column('sum_economic', sa.Float(), nullable=False),
        sa.Column('sum_social', sa.Float(), nullable=False),
        sa.Column('sum_psychosocial', sa.Float(), nullable=False),
        sa.Column('sum_composite', sa.Float(), nullable=False),
        sa.Column('sum_days', sa.BigInteger(), nullable=False),
        *case_columns,
        sa.PrimaryKeyConstraint('id', name=op.f('pk_outcome_cells')),
    )
    op.create_index('ix_outcome_cells_measure', 'outcome_cells', ['measure', 'grant_id'],
                    unique=False)


def _replace(measures, case_columns):
    op.drop_index('ix_outcome_cells_measure', table_name='outcome_cells')
    op.drop_table('outcome_cells')
    op.execute(sa.text('DELETE FROM outcome_snapshots'))
    _create(measures, case_columns)


def upgrade():
    _replace(NEW_MEASURES, [
        sa.Column('returns', sa.Integer(), nullable=False),
        sa.Column('arrivals', sa.Integer(), nullable=False),
        sa.Column('committed_minor', sa.BigInteger(), nullable=False),
        sa.Column('delivered_minor', sa.BigInteger(), nullable=False),
    ])


def downgrade():
    _replace(OLD_MEASURES, [])
