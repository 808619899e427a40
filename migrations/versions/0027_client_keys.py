"""visits and surveys keep the key their client sent

Revision ID: 0027
Revises: 0026
Create Date: 2026-12-06 20:25:00

A visit or survey recorded through the API may carry a client-supplied key: the same key sent
again (a retried upload) answers the record it made instead of making a second one.
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0027'
down_revision = '0026'
branch_labels = None
depends_on = None

TABLES = ('monitoring_visits', 'sustainability_surveys')


def upgrade():
    for table in TABLES:
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column('client_key', sa.String(length=64), nullable=True))
        op.create_index(
            f'uq_{table}_client_key', table, ['client_key'], unique=True,
            postgresql_where=sa.text('client_key IS NOT NULL'),
            sqlite_where=sa.text('client_key IS NOT NULL'),
        )


def downgrade():
    for table in TABLES:
        op.drop_index(f'uq_{table}_client_key', table_name=table)
        with op.batch_alter_table(table) as batch:
            batch.drop_column('client_key')
