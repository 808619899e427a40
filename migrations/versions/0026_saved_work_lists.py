"""saved work lists

Revision ID: 0026
Revises: 0025
Create Date: 2026-12-06 19:30:00

A work list's filters kept under a name by its owner, optionally shared with the owner's
office.
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0026'
down_revision = '0025'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'saved_work_lists',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('owner_id', sa.Integer(), nullable=False),
        sa.Column('office_id', sa.Integer(), nullable=False),
        sa.Column('name', sa.String(length=80), nullable=False),
        sa.Column('filters', sa.JSON(), nullable=False),
        sa.Column('shared', sa.Boolean(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ['owner_id'], ['users.id'],
            name=op.f('fk_saved_work_lists_owner_id_users'), ondelete='CASCADE',
        ),
        sa.ForeignKeyConstraint(
            ['office_id'], ['offices.id'], name=op.f('fk_saved_work_lists_office_id_offices'),
        ),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_saved_work_lists')),
        sa.UniqueConstraint('owner_id', 'name', name=op.f('uq_saved_work_lists_owner_id_name')),
    )
    op.create_index(
        'ix_saved_work_lists_office_shared', 'saved_work_lists', ['office_id', 'shared']
    )


def downgrade():
    op.drop_index('ix_saved_work_lists_office_shared', table_name='saved_work_lists')
    op.drop_table('saved_work_lists')
