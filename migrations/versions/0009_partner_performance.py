"""partner performance indicators

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-03 13:30:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('partner_performance',
    sa.Column('partner_id', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('as_of', sa.Date(), nullable=False),
    sa.Column('refreshed_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('referrals_sent', sa.Integer(), nullable=False),
    sa.Column('referrals_decided', sa.Integer(), nullable=False),
    sa.Column('referrals_accepted', sa.Integer(), nullable=False),
    sa.Column('acceptance_rate', sa.Float(), nullable=True),
    sa.Column('median_hours_to_accept', sa.Float(), nullable=True),
    sa.Column('lines_delivered', sa.Integer(), nullable=False),
    sa.Column('median_days_to_deliver', sa.Float(), nullable=True),
    sa.Column('lines_due_within_year', sa.Integer(), nullable=False),
    sa.Column('lines_delivered_within_year', sa.Integer(), nullable=False),
    sa.Column('delivered_within_year_share', sa.Float(), nullable=True),
    sa.Column('returnees_surveyed', sa.Integer(), nullable=False),
    sa.Column('economic', sa.Float(), nullable=True),
    sa.Column('social', sa.Float(), nullable=True),
    sa.Column('psychosocial', sa.Float(), nullable=True),
    sa.Column('composite', sa.Float(), nullable=True),
    sa.ForeignKeyConstraint(['partner_id'], ['partners.id'], name=op.f('fk_partner_performance_partner_id_partners'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('partner_id', name=op.f('pk_partner_performance'))
    )
    with op.batch_alter_table('partner_performance', schema=None) as batch_op:
        batch_op.create_index('ix_partner_performance_composite', ['composite', 'partner_id'], unique=False)


def downgrade():
    with op.batch_alter_table('partner_performance', schema=None) as batch_op:
        batch_op.drop_index('ix_partner_performance_composite')

    op.drop_table('partner_performance')
