"""case documents: files kept on a case, encrypted at rest

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-06 19:30:00

A case's documents (travel document or ID, signed consent, return decision, invoice, photo,
other): the file itself is encrypted outside the database (``cases.documents``); the row holds
its checked type, size, SHA-256 and who uploaded or removed it.
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0023'
down_revision = '0022'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('case_documents',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('returnee_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.Enum('travel_document', 'signed_consent', 'return_decision', 'invoice', 'photo', 'other', name='documentkind', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('note', sa.String(length=500), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('content_type', sa.String(length=64), nullable=False),
    sa.Column('size', sa.Integer(), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('storage_key', sa.String(length=32), nullable=False),
    sa.Column('uploaded_by_id', sa.Integer(), nullable=True),
    sa.Column('uploaded_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('removed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('removed_by_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['removed_by_id'], ['users.id'], name=op.f('fk_case_documents_removed_by_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['returnee_id'], ['returnees.id'], name=op.f('fk_case_documents_returnee_id_returnees'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['uploaded_by_id'], ['users.id'], name=op.f('fk_case_documents_uploaded_by_id_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_case_documents')),
    sa.UniqueConstraint('storage_key', name=op.f('uq_case_documents_storage_key'))
    )
    with op.batch_alter_table('case_documents', schema=None) as batch_op:
        batch_op.create_index('ix_case_documents_returnee', ['returnee_id', 'id'], unique=False)
        batch_op.create_index(batch_op.f('ix_case_documents_uploaded_by_id'), ['uploaded_by_id'], unique=False)


def downgrade():
    with op.batch_alter_table('case_documents', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_case_documents_uploaded_by_id'))
        batch_op.drop_index('ix_case_documents_returnee')

    op.drop_table('case_documents')
