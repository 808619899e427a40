"""milestone actions: done, not applicable, moved, reopened; visits and surveys name the milestone they close

Revision ID: 0016
Revises: 0013
Create Date: 2026-12-06 13:03:43

Milestones get the day they were done (``completed_on``; filled from ``completed_at`` for
those done before), the reason they were marked not applicable and a note; each action by hand
is a ``milestone_actions`` row. Visits and surveys keep the milestone they closed. The open
milestones of cases closed before are cancelled, as closing a case now does.
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0016'
down_revision = '0013'
branch_labels = None
depends_on = None

REASONS = ('returnee_unreachable', 'returnee_declined', 'returnee_moved', 'support_cancelled',
           'covered_elsewhere', 'not_in_plan', 'security', 'other')


def _reason():
    return sa.Enum(*REASONS, name='notapplicablereason', native_enum=False,
                   create_constraint=True, length=32)


def upgrade():
    op.create_table('milestone_actions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('milestone_id', sa.Integer(), nullable=False),
    sa.Column('action', sa.Enum('done', 'not_applicable', 'moved', 'reopened', name='actionkind', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('on_date', sa.Date(), nullable=True),
    sa.Column('previous_due_on', sa.Date(), nullable=True),
    sa.Column('reason', _reason(), nullable=True),
    sa.Column('note', sa.String(length=1000), nullable=False),
    sa.Column('actor_id', sa.Integer(), nullable=True),
    sa.Column('actor_label', sa.String(length=120), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['actor_id'], ['users.id'], name=op.f('fk_milestone_actions_actor_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['milestone_id'], ['milestones.id'], name=op.f('fk_milestone_actions_milestone_id_milestones'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_milestone_actions'))
    )
    with op.batch_alter_table('milestone_actions', schema=None) as batch_op:
        batch_op.create_index('ix_milestone_actions_milestone', ['milestone_id', 'id'], unique=False)

    # the note is filled with '' for the rows there are, then has no default (as the model)
    with op.batch_alter_table('milestones', schema=None) as batch_op:
        batch_op.add_column(sa.Column('completed_on', sa.Date(), nullable=True))
        batch_op.add_column(sa.Column('not_applicable_reason', _reason(), nullable=True))
        batch_op.add_column(sa.Column('note', sa.String(length=1000), nullable=False,
                                      server_default=''))
    with op.batch_alter_table('milestones', schema=None) as batch_op:
        batch_op.alter_column('note', server_default=None)
    completed_day = ('CAST(completed_at AS DATE)' if op.get_bind().dialect.name == 'postgresql'
                     else 'date(completed_at)')
    op.execute(
        f"UPDATE milestones SET completed_on = {completed_day} "
        "WHERE status = 'done' AND completed_at IS NOT NULL"
    )

    # closing a case now cancels its open milestones: those of cases closed before
    op.execute(
        "UPDATE milestones SET status = 'cancelled' "
        "WHERE status IN ('upcoming', 'due', 'overdue') "
        "AND returnee_id IN (SELECT id FROM returnees WHERE status = 'closed')"
    )

    with op.batch_alter_table('monitoring_visits', schema=None) as batch_op:
        batch_op.add_column(sa.Column('milestone_id', sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f('ix_monitoring_visits_milestone_id'), ['milestone_id'], unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_monitoring_visits_milestone_id_milestones'), 'milestones', ['milestone_id'], ['id'], ondelete='SET NULL')

    with op.batch_alter_table('sustainability_surveys', schema=None) as batch_op:
        batch_op.add_column(sa.Column('milestone_id', sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f('ix_sustainability_surveys_milestone_id'), ['milestone_id'], unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_sustainability_surveys_milestone_id_milestones'), 'milestones', ['milestone_id'], ['id'], ondelete='SET NULL')


def downgrade():
    with op.batch_alter_table('sustainability_surveys', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_sustainability_surveys_milestone_id_milestones'), type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_sustainability_surveys_milestone_id'))
        batch_op.drop_column('milestone_id')

    with op.batch_alter_table('monitoring_visits', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_monitoring_visits_milestone_id_milestones'), type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_monitoring_visits_milestone_id'))
        batch_op.drop_column('milestone_id')

    with op.batch_alter_table('milestones', schema=None) as batch_op:
        batch_op.drop_column('note')
        batch_op.drop_column('not_applicable_reason')
        batch_op.drop_column('completed_on')

    with op.batch_alter_table('milestone_actions', schema=None) as batch_op:
        batch_op.drop_index('ix_milestone_actions_milestone')

    op.drop_table('milestone_actions')
