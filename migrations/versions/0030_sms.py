"""text messages to returnees: the mobile number, the consent to SMS, the outbox's channel

Revision ID: 0030
Revises: 0029
Create Date: 2026-12-07 01:00:00

A case's mobile number (E.164) and its consent row's SMS flag; an outbox row's channel
(e-mail or SMS) and, for a text message, its returnee; a text message whose returnee no longer
consents before it is sent is "withdrawn".
"""

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "0030"
down_revision = "0029"
branch_labels = None
depends_on = None

STATUSES = ("queued", "sent", "failed")


def _status_check(values):
    return "status IN (" + ", ".join(f"'{v}'" for v in values) + ")"


def upgrade():
    with op.batch_alter_table("returnees", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("mobile_number", sa.String(length=32), server_default="", nullable=False)
        )
    with op.batch_alter_table("consents", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("sms_contact", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
    with op.batch_alter_table("outbox_messages", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "channel",
                sa.Enum(
                    "email",
                    "sms",
                    name="channel",
                    native_enum=False,
                    create_constraint=True,
                    length=8,
                ),
                server_default="email",
                nullable=False,
            )
        )
        batch_op.add_column(sa.Column("returnee_id", sa.Integer(), nullable=True))
        batch_op.create_index(
            batch_op.f("ix_outbox_messages_returnee_id"), ["returnee_id"], unique=False
        )
        batch_op.drop_constraint(batch_op.f("ck_outbox_messages_outboxstatus"), type_="check")
        batch_op.create_check_constraint(
            batch_op.f("ck_outbox_messages_outboxstatus"), _status_check((*STATUSES, "withdrawn"))
        )


def downgrade():
    op.execute(
        "UPDATE outbox_messages SET status = 'failed', last_error = 'withdrawn: no consent to "
        "SMS any more' WHERE status = 'withdrawn'"
    )
    with op.batch_alter_table("outbox_messages", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("ck_outbox_messages_outboxstatus"), type_="check")
        batch_op.create_check_constraint(
            batch_op.f("ck_outbox_messages_outboxstatus"), _status_check(STATUSES)
        )
        batch_op.drop_index(batch_op.f("ix_outbox_messages_returnee_id"))
        batch_op.drop_column("returnee_id")
        # the enum's check goes first: SQLite's copy of the table would name a column it lost
        batch_op.drop_constraint(batch_op.f("ck_outbox_messages_channel"), type_="check")
        batch_op.drop_column("channel")
    with op.batch_alter_table("consents", schema=None) as batch_op:
        batch_op.drop_column("sms_contact")
    with op.batch_alter_table("returnees", schema=None) as batch_op:
        batch_op.drop_column("mobile_number")
