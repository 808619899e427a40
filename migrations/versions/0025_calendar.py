"""the office calendar and private calendar feeds

Revision ID: 0025
Revises: 0024
Create Date: 2026-12-06 19:15:00

A user's iCalendar feed is addressed by a random token whose SHA-256 is stored (one feed a
user; a new token replaces the old); the office calendar reads visits by their day.
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0025'
down_revision = '0024'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'calendar_feeds',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('token_hash', sa.String(length=64), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('last_read_at', sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ['user_id'], ['users.id'],
            name=op.f('fk_calendar_feeds_user_id_users'), ondelete='CASCADE',
        ),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_calendar_feeds')),
        sa.UniqueConstraint('user_id', name=op.f('uq_calendar_feeds_user_id')),
        sa.UniqueConstraint('token_hash', name=op.f('uq_calendar_feeds_token_hash')),
    )
    op.create_index('ix_monitoring_visits_visited_on', 'monitoring_visits', ['visited_on'])


def downgrade():
    op.drop_index('ix_monitoring_visits_visited_on', table_name='monitoring_visits')
    op.drop_table('calendar_feeds')
