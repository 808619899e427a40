"""monitoring: pre-aggregated outcome snapshots

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-03 13:30:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'programme_activities',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('grant_id', sa.Integer(), nullable=False),
        sa.Column('kind', sa.Enum('short_stay', 'capacity_event', name='activitykind',
                                  native_enum=False, create_constraint=True, length=32),
                  nullable=False),
        sa.Column('occurred_on', sa.Date(), nullable=False),
        sa.Column('people_count', sa.Integer(), nullable=False),
        sa.Column('note', sa.String(length=500), nullable=False),
        sa.Column('recorded_by_id', sa.Integer(), nullable=True),
        sa.Column('recorded_at', sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint('people_count >= 0',
                           name=op.f('ck_programme_activities_people_not_negative')),
        sa.ForeignKeyConstraint(['grant_id'], ['grants.id'],
                                name=op.f('fk_programme_activities_grant_id_grants'),
                                ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['recorded_by_id'], ['users.id'],
                                name=op.f('fk_programme_activities_recorded_by_id_users'),
                                ondelete='SET NULL'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_programme_activities')),
    )
    op.create_index('ix_programme_activities_grant', 'programme_activities',
                    ['grant_id', 'kind', 'occurred_on'], unique=False)
    op.create_table(
        'outcome_snapshots',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('taken_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('as_of', sa.Date(), nullable=False),
        sa.Column('cell_count', sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_outcome_snapshots')),
    )
    op.create_table(
        'outcome_cells',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('snapshot_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('measure', sa.Enum('score', 'score_service', 'plan_days', 'milestones',
                                     'closure', name='measure', native_enum=False,
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
        sa.PrimaryKeyConstraint('id', name=op.f('pk_outcome_cells')),
    )
    op.create_index('ix_outcome_cells_measure', 'outcome_cells', ['measure', 'grant_id'],
                    unique=False)
    # the dashboard's live filters and the case list's drill-down filters
    with op.batch_alter_table('returnees', schema=None) as batch_op:
        batch_op.create_index('ix_returnees_grant_departed', ['grant_id', 'departed_on'],
                              unique=False)
        batch_op.create_index('ix_returnees_departed_on', ['departed_on'], unique=False)
        batch_op.create_index('ix_returnees_arrived_on', ['arrived_on'], unique=False)
    with op.batch_alter_table('milestones', schema=None) as batch_op:
        batch_op.create_index('ix_milestones_case_status', ['returnee_id', 'status', 'office_id'],
                              unique=False)
        # the dashboard's open milestones per office: an index-only count
        batch_op.create_index('ix_milestones_status_office', ['status', 'office_id'],
                              unique=False)


def downgrade():
    with op.batch_alter_table('milestones', schema=None) as batch_op:
        batch_op.drop_index('ix_milestones_status_office')
        batch_op.drop_index('ix_milestones_case_status')
    with op.batch_alter_table('returnees', schema=None) as batch_op:
        batch_op.drop_index('ix_returnees_arrived_on')
        batch_op.drop_index('ix_returnees_departed_on')
        batch_op.drop_index('ix_returnees_grant_departed')
    op.drop_index('ix_outcome_cells_measure', table_name='outcome_cells')
    op.drop_table('outcome_cells')
    op.drop_table('outcome_snapshots')
    op.drop_index('ix_programme_activities_grant', table_name='programme_activities')
    op.drop_table('programme_activities')
