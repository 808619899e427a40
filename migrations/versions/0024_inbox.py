"""in-app notices, e-mail choices per kind of message, outbox rows held for the daily digest

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-06 19:30:00

Every message e-mailed to a user is also a notice in their inbox (one per message key), and
each user chooses per kind of message whether it is e-mailed at once, in the daily digest or
not at all. Messages queued before have no notice: their links were absolute addresses only.
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0024'
down_revision = '0023'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'inbox_notices',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('key', sa.String(length=160), nullable=False),
        sa.Column('kind', sa.String(length=80), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('subject', sa.String(length=300), nullable=False),
        sa.Column('summary', sa.String(length=500), nullable=False),
        sa.Column('link', sa.String(length=500), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('read_at', sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(['user_id'], ['users.id'],
                                name=op.f('fk_inbox_notices_user_id_users'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_inbox_notices')),
        sa.UniqueConstraint('key', name=op.f('uq_inbox_notices_key')),
    )
    op.create_index('ix_inbox_notices_user_read', 'inbox_notices', ['user_id', 'read_at'])
    op.create_index('ix_inbox_notices_user_created', 'inbox_notices',
                    ['user_id', 'created_at', 'id'])
    op.create_table(
        'notification_preferences',
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('kind', sa.String(length=80), nullable=False),
        sa.Column('email', sa.Enum('immediately', 'digest', 'none', name='emailchoice',
                                   native_enum=False, create_constraint=True, length=32),
                  nullable=False),
        sa.ForeignKeyConstraint(['user_id'], ['users.id'],
                                name=op.f('fk_notification_preferences_user_id_users'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('user_id', 'kind', name=op.f('pk_notification_preferences')),
    )
    with op.batch_alter_table('outbox_messages', schema=None) as batch_op:
        batch_op.add_column(sa.Column('daily_digest', sa.Boolean(), nullable=False,
                                      server_default=sa.false()))


def downgrade():
    with op.batch_alter_table('outbox_messages', schema=None) as batch_op:
        batch_op.drop_column('daily_digest')
    op.drop_table('notification_preferences')
    op.drop_index('ix_inbox_notices_user_created', table_name='inbox_notices')
    op.drop_index('ix_inbox_notices_user_read', table_name='inbox_notices')
    op.drop_table('inbox_notices')
