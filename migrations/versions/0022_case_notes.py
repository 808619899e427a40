"""case notes: dated notes on a case, with a follow-up day that becomes a task

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-06 19:40:00

Staff write dated, typed notes on a case (``cases.notes``); a note is never deleted, its author
corrects it the day it was written. One index lists a case's notes newest first, a partial one
finds an author's notes whose follow-up is not done (the home page's "My work").

The case's access log (``cases.access_log``) needs no new index: it finds the audit rows of the
case and of its records by object type and id, which ``ix_audit_entries_object`` covers.
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0022'
down_revision = '0021'
branch_labels = None
depends_on = None

FOLLOW_UP_OPEN = 'follow_up_on IS NOT NULL AND follow_up_done_at IS NULL'


def upgrade():
    op.create_table('case_notes',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('returnee_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.Enum('contact_attempt', 'counselling', 'phone_call', 'other', name='notekind', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('noted_on', sa.Date(), nullable=False),
    sa.Column('text', sa.String(length=4000), nullable=False),
    sa.Column('follow_up_on', sa.Date(), nullable=True),
    sa.Column('follow_up_done_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('author_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('corrected_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['author_id'], ['users.id'], name=op.f('fk_case_notes_author_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['returnee_id'], ['returnees.id'], name=op.f('fk_case_notes_returnee_id_returnees'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_case_notes'))
    )
    with op.batch_alter_table('case_notes', schema=None) as batch_op:
        batch_op.create_index('ix_case_notes_case_order', ['returnee_id', 'id'], unique=False)
        batch_op.create_index('ix_case_notes_follow_up', ['author_id', 'follow_up_on'], unique=False, postgresql_where=sa.text(FOLLOW_UP_OPEN), sqlite_where=sa.text(FOLLOW_UP_OPEN))


def downgrade():
    with op.batch_alter_table('case_notes', schema=None) as batch_op:
        batch_op.drop_index('ix_case_notes_follow_up', postgresql_where=sa.text(FOLLOW_UP_OPEN), sqlite_where=sa.text(FOLLOW_UP_OPEN))
        batch_op.drop_index('ix_case_notes_case_order')
    op.drop_table('case_notes')
