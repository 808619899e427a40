"""the sweep's candidates: partial indexes over the rows it may change

Revision ID: 0031
Revises: 0030
Create Date: 2026-12-07 09:00:00

Each statement of the follow-up sweep looks for the milestones it changes among the rows in
one state, by plan and one date (windows that end, milestones that become due or overdue) or
by plan (the overdue milestones still to escalate). An index over just those rows lets a run
of a range of plans read those rows of the range, and fetch only the few it changes, instead
of every milestone of the range.
"""

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "0031"
down_revision = "0030"
branch_labels = None
depends_on = None

INDEXES = {
    "ix_milestones_window_closes": (
        ["plan_id", "due_on"],
        "kind = 'window_closes' AND status IN ('upcoming', 'due', 'overdue')",
    ),
    "ix_milestones_becomes_overdue": (["plan_id", "due_on"], "status IN ('upcoming', 'due')"),
    "ix_milestones_becomes_due": (["plan_id", "remind_on"], "status = 'upcoming'"),
    "ix_milestones_escalating": (["plan_id"], "status = 'overdue' AND escalation_level < 2"),
}


def upgrade():
    for name, (columns, where) in INDEXES.items():
        condition = sa.text(where)
        op.create_index(
            name,
            "milestones",
            columns,
            postgresql_where=condition,
            sqlite_where=condition,
        )


def downgrade():
    for name in INDEXES:
        op.drop_index(name, table_name="milestones")
