"""deliveries in instalments, options' payment schedules, e-mails in the recipient's language

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-06 13:02:36

A plan line may now have several deliveries (instalments numbered per line; the one that
completes the line is its ``final`` one). Deliveries recorded before were each the whole of
their line: they become instalment 1, final, with the line's quantity, and the amount they
count against the line in the line's currency (their own amount when paid in it, else their
euro amount at the line's rate).

Support options say how they are paid (once, or monthly); partners the language e-mails to a
focal point without an account are written in; each outbox message the language it is in.
"""
from decimal import ROUND_HALF_EVEN, Decimal

from alembic import op
import sqlalchemy as sa
from babel.numbers import get_currency_precision


# revision identifiers, used by Alembic.
revision = '0017'
down_revision = '0016'
branch_labels = None
depends_on = None

def _backfill_deliveries():
    deliveries = sa.table(
        'deliveries',
        sa.column('id', sa.Integer), sa.column('plan_line_id', sa.Integer),
        sa.column('currency', sa.String), sa.column('amount_minor', sa.BigInteger),
        sa.column('amount_eur_minor', sa.BigInteger), sa.column('quantity', sa.Integer),
        sa.column('amount_line_minor', sa.BigInteger),
    )
    lines = sa.table(
        'plan_lines',
        sa.column('id', sa.Integer), sa.column('quantity', sa.Integer),
        sa.column('currency', sa.String), sa.column('eur_rate', sa.Numeric(18, 10)),
    )
    line = sa.select(lines).where(lines.c.id == deliveries.c.plan_line_id)
    op.execute(
        deliveries.update().values(
            quantity=line.with_only_columns(lines.c.quantity).scalar_subquery(),
            amount_line_minor=deliveries.c.amount_minor,
        )
    )
    # paid in another currency than the line's: the euro amount at the line's rate
    connection = op.get_bind()
    other = connection.execute(
        sa.select(deliveries.c.id, deliveries.c.amount_eur_minor, lines.c.currency,
                  lines.c.eur_rate)
        .join(lines, lines.c.id == deliveries.c.plan_line_id)
        .where(deliveries.c.currency != lines.c.currency)
    ).all()
    for row in other:
        euros = Decimal(row.amount_eur_minor) / 100 / Decimal(row.eur_rate)
        minor = euros.scaleb(get_currency_precision(row.currency))
        connection.execute(
            deliveries.update().where(deliveries.c.id == row.id)
            .values(amount_line_minor=int(minor.quantize(Decimal(1), ROUND_HALF_EVEN)))
        )


def upgrade():
    with op.batch_alter_table('deliveries', schema=None) as batch_op:
        batch_op.add_column(sa.Column('instalment', sa.Integer(), server_default='1',
                                      nullable=False))
        batch_op.add_column(sa.Column('final', sa.Boolean(), server_default=sa.true(),
                                      nullable=False))
        batch_op.add_column(sa.Column('quantity', sa.Integer(), server_default='0',
                                      nullable=False))
        batch_op.add_column(sa.Column('amount_line_minor', sa.BigInteger(), server_default='0',
                                      nullable=False))
    _backfill_deliveries()
    with op.batch_alter_table('deliveries', schema=None) as batch_op:
        for column in ('instalment', 'final', 'quantity', 'amount_line_minor'):
            batch_op.alter_column(column, server_default=None)
        batch_op.drop_constraint(batch_op.f('uq_deliveries_plan_line_id'), type_='unique')
        batch_op.create_unique_constraint(batch_op.f('uq_deliveries_plan_line_id_instalment'),
                                          ['plan_line_id', 'instalment'])
        batch_op.create_index('uq_deliveries_final_line', ['plan_line_id'], unique=True,
                              postgresql_where=sa.text('final'), sqlite_where=sa.text('final'))
        batch_op.create_check_constraint(batch_op.f('ck_deliveries_quantity_not_negative'),
                                         'quantity >= 0')
        batch_op.create_check_constraint(batch_op.f('ck_deliveries_instalment_positive'),
                                         'instalment >= 1')

    op.add_column('outbox_messages', sa.Column('language', sa.String(length=8),
                                               server_default='en', nullable=False))
    op.add_column('partners', sa.Column('contact_language', sa.String(length=8),
                                        server_default='', nullable=False))

    # one ALTER on both databases: a batch would copy support_options, which SQLite cannot
    # drop while other tables refer to it (and a downgrade on SQLite left the column there)
    existing = {c['name'] for c in sa.inspect(op.get_bind()).get_columns('support_options')}
    if 'payment_schedule' not in existing:
        op.execute(
            "ALTER TABLE support_options ADD COLUMN payment_schedule VARCHAR(32) "
            "DEFAULT 'one_off' NOT NULL CONSTRAINT ck_support_options_paymentschedule "
            "CHECK (payment_schedule IN ('one_off', 'monthly'))"
        )
    op.add_column('support_options', sa.Column('payment_months', sa.Integer(), nullable=True))


def downgrade():
    op.drop_column('support_options', 'payment_months')
    # SQLite drops no column with a CHECK, nor copies a table others refer to: there the
    # column stays (its default fills it for whatever the older code inserts)
    if op.get_bind().dialect.name == 'postgresql':
        op.drop_column('support_options', 'payment_schedule')

    op.drop_column('partners', 'contact_language')
    op.drop_column('outbox_messages', 'language')

    # one delivery per line again: only the first instalment of each line stays
    op.execute('DELETE FROM deliveries WHERE instalment > 1')
    with op.batch_alter_table('deliveries', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('ck_deliveries_instalment_positive'), type_='check')
        batch_op.drop_constraint(batch_op.f('ck_deliveries_quantity_not_negative'), type_='check')
        batch_op.drop_index('uq_deliveries_final_line', postgresql_where=sa.text('final'),
                            sqlite_where=sa.text('final'))
        batch_op.drop_constraint(batch_op.f('uq_deliveries_plan_line_id_instalment'),
                                 type_='unique')
        batch_op.create_unique_constraint(batch_op.f('uq_deliveries_plan_line_id'),
                                          ['plan_line_id'])
        batch_op.drop_column('amount_line_minor')
        batch_op.drop_column('quantity')
        batch_op.drop_column('final')
        batch_op.drop_column('instalment')
