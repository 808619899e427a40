"""outbox messages carry their kind and the milestone notice they tell of

Revision ID: 0020
Revises: 0015
Create Date: 2026-12-06 16:40:00

The kind of a message (what digests gather by) and the milestone notice a follow-up e-mail
tells of (the plan's timeline counts its e-mails) were read back out of the message's key;
they are columns now, written with the message. Messages queued before are filled from their
keys here, by the rules the code used: the kind is the key without its parts that hold a
digit, and a sweep's key ``milestone:<milestone id>:<level>:<recipient digest>`` names the
notice of that milestone and level.
"""
import re

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0020'
down_revision = '0015'
branch_labels = None
depends_on = None

_BATCH = 5000
_NOTICE_KEY = re.compile(r'milestone:(\d+):(\d+):[0-9a-f]+')

outbox = sa.table(
    'outbox_messages',
    sa.column('id', sa.Integer), sa.column('key', sa.String),
    sa.column('kind', sa.String), sa.column('notice_id', sa.Integer),
)
notices = sa.table(
    'milestone_notices',
    sa.column('id', sa.Integer), sa.column('milestone_id', sa.Integer),
    sa.column('level', sa.Integer),
)


def _kind(key):
    return ':'.join(part for part in key.split(':') if not any(c.isdigit() for c in part))


def _notice_ids(connection, rows):
    """The notice named by each sweep key among ``rows`` (id, key), by outbox id."""
    wanted = {}
    for message_id, key in rows:
        found = _NOTICE_KEY.fullmatch(key)
        if found:
            wanted[message_id] = (int(found.group(1)), int(found.group(2)))
    if not wanted:
        return {}
    milestone_ids = sorted({milestone_id for milestone_id, _ in wanted.values()})
    notice_of = {
        (milestone_id, level): notice_id
        for notice_id, milestone_id, level in connection.execute(
            sa.select(notices.c.id, notices.c.milestone_id, notices.c.level)
            .where(notices.c.milestone_id.in_(milestone_ids))
        )
    }
    return {message_id: notice_of.get(found) for message_id, found in wanted.items()}


def _backfill(connection):
    last_id = 0
    while True:
        rows = connection.execute(
            sa.select(outbox.c.id, outbox.c.key)
            .where(outbox.c.id > last_id).order_by(outbox.c.id).limit(_BATCH)
        ).all()
        if not rows:
            return
        last_id = rows[-1][0]
        notice_ids = _notice_ids(connection, rows)
        connection.execute(
            outbox.update().where(outbox.c.id == sa.bindparam('message_id'))
            .values(kind=sa.bindparam('new_kind'), notice_id=sa.bindparam('new_notice_id')),
            [
                {'message_id': message_id, 'new_kind': _kind(key),
                 'new_notice_id': notice_ids.get(message_id)}
                for message_id, key in rows
            ],
        )


def upgrade():
    op.add_column('outbox_messages', sa.Column('kind', sa.String(length=80), nullable=True))
    op.add_column('outbox_messages', sa.Column('notice_id', sa.Integer(), nullable=True))
    _backfill(op.get_bind())
    with op.batch_alter_table('outbox_messages', schema=None) as batch_op:
        batch_op.alter_column('kind', existing_type=sa.String(length=80), nullable=False)
        batch_op.create_index(batch_op.f('ix_outbox_messages_notice_id'), ['notice_id'],
                              unique=False)


def downgrade():
    with op.batch_alter_table('outbox_messages', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_outbox_messages_notice_id'))
        batch_op.drop_column('notice_id')
        batch_op.drop_column('kind')
