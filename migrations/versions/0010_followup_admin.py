"""follow-up administration: milestones keep the offset they were scheduled with

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-03 13:30:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade():
    # nullable: milestones scheduled before this revision keep following their template
    with op.batch_alter_table('milestones', schema=None) as batch_op:
        batch_op.add_column(sa.Column('offset_days', sa.Integer(), nullable=True))


def downgrade():
    with op.batch_alter_table('milestones', schema=None) as batch_op:
        batch_op.drop_column('offset_days')
