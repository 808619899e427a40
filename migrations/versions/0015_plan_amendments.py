"""plan amendments, line states and replacements, waitlist promotion

Revision ID: 0015
Revises: 0017
Create Date: 2026-12-06 13:11:00.710947

Lines get a state (proposed, active, declined, expired, cancelled), the amendment that proposed
them and the line they replace; plans the total last approved; place holds the moment they took a
freed place (and plan lines an index on their hold, by which a promotion finds its line).
Existing data: lines whose referral was declined or expired are closed (they no
longer count in their plan's total, and their open delivery milestones are cancelled); approved
plans keep the total they were approved with; lines of approved plans are in effect from the day
of approval.
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0015'
down_revision = '0017'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('plan_amendments',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('plan_id', sa.Integer(), nullable=False),
    sa.Column('number', sa.Integer(), nullable=False),
    sa.Column('status', sa.Enum('draft', 'submitted', 'returned', 'feasible', 'approved', 'withdrawn', name='amendmentstatus', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('visit_id', sa.Integer(), nullable=True),
    sa.Column('opened_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('opened_by_id', sa.Integer(), nullable=True),
    sa.Column('justification', sa.Text(), nullable=False),
    sa.Column('needs_approval', sa.Boolean(), nullable=False),
    sa.Column('total_before_eur_minor', sa.BigInteger(), nullable=True),
    sa.Column('total_after_eur_minor', sa.BigInteger(), nullable=True),
    sa.Column('review_comment', sa.Text(), nullable=False),
    sa.Column('submitted_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('feasible_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('feasible_by_id', sa.Integer(), nullable=True),
    sa.Column('decided_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('decided_by_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['decided_by_id'], ['users.id'], name=op.f('fk_plan_amendments_decided_by_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['feasible_by_id'], ['users.id'], name=op.f('fk_plan_amendments_feasible_by_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['opened_by_id'], ['users.id'], name=op.f('fk_plan_amendments_opened_by_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['plan_id'], ['plans.id'], name=op.f('fk_plan_amendments_plan_id_plans'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['visit_id'], ['monitoring_visits.id'], name=op.f('fk_plan_amendments_visit_id_monitoring_visits'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_plan_amendments')),
    sa.UniqueConstraint('plan_id', 'number', name=op.f('uq_plan_amendments_plan_id_number'))
    )
    with op.batch_alter_table('plan_amendments', schema=None) as batch_op:
        batch_op.create_index('ix_plan_amendments_status', ['status', 'submitted_at'], unique=False)
        batch_op.create_index('uq_plan_amendments_open', ['plan_id'], unique=True, postgresql_where=sa.text("status IN ('draft', 'feasible', 'returned', 'submitted')"), sqlite_where=sa.text("status IN ('draft', 'feasible', 'returned', 'submitted')"))

    op.create_table('plan_line_changes',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('amendment_id', sa.Integer(), nullable=False),
    sa.Column('line_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.Enum('change', 'cancel', name='linechangekind', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('quantity_before', sa.Integer(), nullable=False),
    sa.Column('quantity', sa.Integer(), nullable=True),
    sa.Column('notes', sa.String(length=1000), nullable=True),
    sa.Column('total_before_eur_minor', sa.BigInteger(), nullable=False),
    sa.Column('total_eur_minor', sa.BigInteger(), nullable=False),
    sa.Column('reason', sa.String(length=1000), nullable=False),
    sa.CheckConstraint('quantity IS NULL OR quantity > 0', name=op.f('ck_plan_line_changes_quantity_positive')),
    sa.ForeignKeyConstraint(['amendment_id'], ['plan_amendments.id'], name=op.f('fk_plan_line_changes_amendment_id_plan_amendments'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['line_id'], ['plan_lines.id'], name=op.f('fk_plan_line_changes_line_id_plan_lines'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_plan_line_changes')),
    sa.UniqueConstraint('amendment_id', 'line_id', name=op.f('uq_plan_line_changes_amendment_id_line_id'))
    )
    with op.batch_alter_table('plan_line_changes', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_plan_line_changes_line_id'), ['line_id'], unique=False)

    with op.batch_alter_table('place_holds', schema=None) as batch_op:
        batch_op.add_column(sa.Column('promoted_at', sa.DateTime(timezone=True), nullable=True))

    with op.batch_alter_table('plan_lines', schema=None) as batch_op:
        batch_op.add_column(sa.Column('status', sa.Enum('proposed', 'active', 'declined', 'expired', 'cancelled', name='linestatus', native_enum=False, create_constraint=True, length=32), server_default='active', nullable=False))
        batch_op.add_column(sa.Column('amendment_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('replaces_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('effective_on', sa.Date(), nullable=True))
        batch_op.add_column(sa.Column('closed_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index(batch_op.f('ix_plan_lines_amendment_id'), ['amendment_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_plan_lines_hold_id'), ['hold_id'], unique=False)
        batch_op.create_unique_constraint(batch_op.f('uq_plan_lines_replaces_id'), ['replaces_id'])
        batch_op.create_foreign_key(batch_op.f('fk_plan_lines_amendment_id_plan_amendments'), 'plan_amendments', ['amendment_id'], ['id'], ondelete='SET NULL')
        batch_op.create_foreign_key(batch_op.f('fk_plan_lines_replaces_id_plan_lines'), 'plan_lines', ['replaces_id'], ['id'], ondelete='SET NULL')

    with op.batch_alter_table('plans', schema=None) as batch_op:
        batch_op.add_column(sa.Column('approved_total_eur_minor', sa.BigInteger(), nullable=True))

    day_of = ('CAST(plans.approved_at AS DATE)' if op.get_bind().dialect.name == 'postgresql'
              else 'substr(plans.approved_at, 1, 10)')
    op.execute(sa.text(
        "UPDATE plans SET approved_total_eur_minor = total_eur_minor WHERE status = 'approved'"))
    op.execute(sa.text(
        f"UPDATE plan_lines SET effective_on = (SELECT {day_of} FROM plans "
        "WHERE plans.id = plan_lines.plan_id) "
        "WHERE plan_id IN (SELECT id FROM plans WHERE status = 'approved')"))
    for status, at in (('declined', 'answered_at'), ('expired', 'expires_at')):
        op.execute(sa.text(
            f"UPDATE plan_lines SET status = '{status}', closed_at = (SELECT referrals.{at} "
            "FROM referrals WHERE referrals.id = plan_lines.referral_id) "
            f"WHERE referral_id IN (SELECT id FROM referrals WHERE status = '{status}')"))
    op.execute(sa.text(
        "UPDATE plans SET total_eur_minor = (SELECT COALESCE(SUM(plan_lines.total_eur_minor), 0) "
        "FROM plan_lines WHERE plan_lines.plan_id = plans.id AND plan_lines.status = 'active') "
        "WHERE id IN (SELECT plan_id FROM plan_lines WHERE status != 'active')"))
    op.execute(sa.text(
        "UPDATE milestones SET status = 'cancelled' WHERE status IN ('upcoming', 'due', 'overdue') "
        "AND plan_line_id IN (SELECT id FROM plan_lines WHERE status != 'active')"))


def downgrade():
    with op.batch_alter_table('plans', schema=None) as batch_op:
        batch_op.drop_column('approved_total_eur_minor')

    with op.batch_alter_table('plan_lines', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_plan_lines_replaces_id_plan_lines'), type_='foreignkey')
        batch_op.drop_constraint(batch_op.f('fk_plan_lines_amendment_id_plan_amendments'), type_='foreignkey')
        batch_op.drop_constraint(batch_op.f('uq_plan_lines_replaces_id'), type_='unique')
        batch_op.drop_index(batch_op.f('ix_plan_lines_hold_id'))
        batch_op.drop_index(batch_op.f('ix_plan_lines_amendment_id'))
        batch_op.drop_column('closed_at')
        batch_op.drop_column('effective_on')
        batch_op.drop_column('replaces_id')
        batch_op.drop_column('amendment_id')
        batch_op.drop_constraint('linestatus', type_='check')
        batch_op.drop_column('status')

    with op.batch_alter_table('place_holds', schema=None) as batch_op:
        batch_op.drop_column('promoted_at')

    with op.batch_alter_table('plan_line_changes', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_plan_line_changes_line_id'))

    op.drop_table('plan_line_changes')
    with op.batch_alter_table('plan_amendments', schema=None) as batch_op:
        batch_op.drop_index('uq_plan_amendments_open', postgresql_where=sa.text("status IN ('draft', 'feasible', 'returned', 'submitted')"), sqlite_where=sa.text("status IN ('draft', 'feasible', 'returned', 'submitted')"))
        batch_op.drop_index('ix_plan_amendments_status')

    op.drop_table('plan_amendments')
