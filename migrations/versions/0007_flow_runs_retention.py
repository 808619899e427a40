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
    with op.batch_alter_table('returnees', schema=None) as batch_op:
        batch_op.add_column(sa.Column('anonymised_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index('ix_returnees_retention_due', ['closed_at', 'id'], unique=False, postgresql_where=sa.text(RETENTION_DUE), sqlite_where=sa.text(RETENTION_DUE))


def downgrade():
    with op.batch_alter_table('returnees', schema=None) as batch_op:
        batch_op.drop_index('ix_returnees_retention_due', postgresql_where=sa.text(RETENTION_DUE), sqlite_where=sa.text(RETENTION_DUE))
        batch_op.drop_column('anonymised_at')
