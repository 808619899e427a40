"""returnee feedback: a request per delivered plan line, its scores, and their figures

Revision ID: 0029
Revises: 0028
Create Date: 2026-12-07 00:08:53

A feedback request per delivery that completed a plan line (its link's nonce, expiry, when it
was sent and answered, the comment, the task a low score opened) and one score per support of
an answered request, unique per request and support, with what the figures group by. Partner
performance gains the number of scores and their mean. Milestones (and template steps, which
share the type) take the new kind ``feedback_followup``.
"""
from alembic import op
import sqlalchemy as sa


_KINDS_BEFORE = ('arrival_confirmed', 'first_contact', 'plan_agreed', 'line_delivered',
                 'monitoring_visit', 'sustainability_survey', 'window_closes')
_KINDS_AFTER = _KINDS_BEFORE + ('feedback_followup',)


def _kinds(kinds):
    return 'kind IN (%s)' % ', '.join(f"'{kind}'" for kind in kinds)


def _allow_kinds(kinds):
    # on SQLite a batch copies the table (foreign keys are off while migrations run)
    for table in ('milestones', 'milestone_steps'):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_constraint(op.f(f'ck_{table}_milestonekind'), type_='check')
            batch_op.create_check_constraint(op.f(f'ck_{table}_milestonekind'), _kinds(kinds))


# revision identifiers, used by Alembic.
revision = '0029'
down_revision = '0028'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('feedback_requests',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('delivery_id', sa.Integer(), nullable=False),
    sa.Column('returnee_id', sa.Integer(), nullable=False),
    sa.Column('plan_line_id', sa.Integer(), nullable=False),
    sa.Column('nonce', sa.String(length=16), nullable=False),
    sa.Column('language', sa.String(length=8), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('sent_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('answered_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('comment', sa.String(length=1000), nullable=False),
    sa.Column('task_id', sa.Integer(), nullable=True),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_feedback_requests_created_by_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['delivery_id'], ['deliveries.id'], name=op.f('fk_feedback_requests_delivery_id_deliveries'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['plan_line_id'], ['plan_lines.id'], name=op.f('fk_feedback_requests_plan_line_id_plan_lines'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['returnee_id'], ['returnees.id'], name=op.f('fk_feedback_requests_returnee_id_returnees'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['task_id'], ['milestones.id'], name=op.f('fk_feedback_requests_task_id_milestones'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_feedback_requests')),
    sa.UniqueConstraint('delivery_id', name=op.f('uq_feedback_requests_delivery_id'))
    )
    with op.batch_alter_table('feedback_requests', schema=None) as batch_op:
        batch_op.create_index('ix_feedback_requests_case', ['returnee_id', 'created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_feedback_requests_plan_line_id'), ['plan_line_id'], unique=False)

    op.create_table('feedback_scores',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('request_id', sa.Integer(), nullable=False),
    sa.Column('plan_line_id', sa.Integer(), nullable=False),
    sa.Column('partner_id', sa.Integer(), nullable=False),
    sa.Column('category', sa.Enum('business_start_up', 'vocational_training', 'job_placement', 'housing', 'education', 'medical', 'psychosocial', 'legal_documentation', 'post_arrival_reception', name='supportcategory', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('return_country_code', sa.String(length=2), nullable=False),
    sa.Column('returnee_id', sa.Integer(), nullable=False),
    sa.Column('answered_on', sa.Date(), nullable=False),
    sa.Column('score', sa.Integer(), nullable=False),
    sa.CheckConstraint('score BETWEEN 1 AND 5', name=op.f('ck_feedback_scores_score_range')),
    sa.ForeignKeyConstraint(['partner_id'], ['partners.id'], name=op.f('fk_feedback_scores_partner_id_partners'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['plan_line_id'], ['plan_lines.id'], name=op.f('fk_feedback_scores_plan_line_id_plan_lines'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['request_id'], ['feedback_requests.id'], name=op.f('fk_feedback_scores_request_id_feedback_requests'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['returnee_id'], ['returnees.id'], name=op.f('fk_feedback_scores_returnee_id_returnees'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_feedback_scores')),
    sa.UniqueConstraint('request_id', 'plan_line_id', name=op.f('uq_feedback_scores_request_id_plan_line_id'))
    )
    with op.batch_alter_table('feedback_scores', schema=None) as batch_op:
        batch_op.create_index('ix_feedback_scores_category', ['category', 'answered_on', 'score'], unique=False)
        batch_op.create_index('ix_feedback_scores_country', ['return_country_code', 'answered_on', 'score'], unique=False)
        batch_op.create_index('ix_feedback_scores_partner', ['partner_id', 'answered_on', 'score'], unique=False)
        batch_op.create_index(batch_op.f('ix_feedback_scores_returnee_id'), ['returnee_id'], unique=False)

    with op.batch_alter_table('partner_performance', schema=None) as batch_op:
        batch_op.add_column(sa.Column('feedback_answers', sa.Integer(), server_default='0',
                                      nullable=False))
        batch_op.add_column(sa.Column('satisfaction', sa.Float(), nullable=True))
    with op.batch_alter_table('partner_performance', schema=None) as batch_op:
        batch_op.alter_column('feedback_answers', server_default=None)

    _allow_kinds(_KINDS_AFTER)


def downgrade():
    op.execute("DELETE FROM milestones WHERE kind = 'feedback_followup'")
    _allow_kinds(_KINDS_BEFORE)

    with op.batch_alter_table('partner_performance', schema=None) as batch_op:
        batch_op.drop_column('satisfaction')
        batch_op.drop_column('feedback_answers')

    with op.batch_alter_table('feedback_scores', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_feedback_scores_returnee_id'))
        batch_op.drop_index('ix_feedback_scores_partner')
        batch_op.drop_index('ix_feedback_scores_country')
        batch_op.drop_index('ix_feedback_scores_category')

    op.drop_table('feedback_scores')
    with op.batch_alter_table('feedback_requests', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_feedback_requests_plan_line_id'))
        batch_op.drop_index('ix_feedback_requests_case')

    op.drop_table('feedback_requests')
