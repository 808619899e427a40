"""programme set-up: cap rules per country of return, grants held by an office with places

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-06 13:05:48

Cap rules gain the country of return they apply to, the largest household they cover and the
voluntary departure window; grants gain the host office holding them, who approves their plans
(the home office, or that host office) and the reintegration places they fund.

The departure window (7 to 30 days after the return decision) was a constant in the case
rules; it becomes data of every existing rule. The largest household a rule covers had no
limit: existing rules get 12 persons, or the largest household already registered if that is
more, so that no existing case becomes invalid.
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None

DEFAULT_MAX_HOUSEHOLD = 12
MIN_DEPARTURE_DAYS = 7
MAX_DEPARTURE_DAYS = 30


def _largest_household() -> int:
    largest = op.get_bind().scalar(sa.text(
        'SELECT max(n) FROM (SELECT count(*) AS n FROM dependants GROUP BY returnee_id) AS f'
    ))
    return max(DEFAULT_MAX_HOUSEHOLD, 1 + int(largest or 0))


def upgrade():
    with op.batch_alter_table('budget_cap_rules', schema=None) as batch_op:
        batch_op.add_column(sa.Column('return_country_code', sa.String(length=2), nullable=True))
        batch_op.add_column(sa.Column('max_household', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('min_departure_days', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('max_departure_days', sa.Integer(), nullable=True))
    op.execute(sa.text(
        'UPDATE budget_cap_rules SET max_household = :household, '
        'min_departure_days = :earliest, max_departure_days = :latest'
    ).bindparams(
        household=_largest_household(), earliest=MIN_DEPARTURE_DAYS, latest=MAX_DEPARTURE_DAYS
    ))
    with op.batch_alter_table('budget_cap_rules', schema=None) as batch_op:
        batch_op.alter_column('max_household', existing_type=sa.Integer(), nullable=False)
        batch_op.alter_column('min_departure_days', existing_type=sa.Integer(), nullable=False)
        batch_op.alter_column('max_departure_days', existing_type=sa.Integer(), nullable=False)
        batch_op.drop_constraint(batch_op.f('uq_budget_cap_rules_grant_id'), type_='unique')
        batch_op.create_unique_constraint(batch_op.f('uq_budget_cap_rules_grant_id_return_country_code'), ['grant_id', 'return_country_code'])
        batch_op.create_index('uq_budget_cap_rules_country_any_grant', ['return_country_code'], unique=True, postgresql_where=sa.text('grant_id IS NULL'), sqlite_where=sa.text('grant_id IS NULL'))
        batch_op.create_index('uq_budget_cap_rules_grant_any_country', ['grant_id'], unique=True, postgresql_where=sa.text('return_country_code IS NULL'), sqlite_where=sa.text('return_country_code IS NULL'))
        batch_op.create_check_constraint(batch_op.f('ck_budget_cap_rules_household_range'), 'max_household BETWEEN 1 AND 99')
        batch_op.create_check_constraint(batch_op.f('ck_budget_cap_rules_adult_age_range'), 'adult_age BETWEEN 0 AND 99')
        batch_op.create_check_constraint(batch_op.f('ck_budget_cap_rules_departure_window'), 'min_departure_days >= 0 AND max_departure_days >= min_departure_days AND max_departure_days <= 365')
        batch_op.create_check_constraint(batch_op.f('ck_budget_cap_rules_default_is_general'), 'is_default = (grant_id IS NULL AND return_country_code IS NULL)')

    # existing grants are held by the home office, which approves their plans, places unlimited
    with op.batch_alter_table('grants', schema=None) as batch_op:
        batch_op.add_column(sa.Column('office_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('plans_approved_by', sa.String(length=32), nullable=False, server_default='home_office'))
        batch_op.add_column(sa.Column('reintegration_places', sa.Integer(), nullable=True))
    with op.batch_alter_table('grants', schema=None) as batch_op:
        batch_op.alter_column('plans_approved_by', existing_type=sa.String(length=32), server_default=None)
        batch_op.create_index(batch_op.f('ix_grants_office_id'), ['office_id'], unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_grants_office_id_offices'), 'offices', ['office_id'], ['id'])
        batch_op.create_check_constraint(batch_op.f('ck_grants_planapprover'), "plans_approved_by IN ('home_office', 'grant_office')")
        batch_op.create_check_constraint(batch_op.f('ck_grants_places_not_negative'), 'reintegration_places >= 0')
        batch_op.create_check_constraint(batch_op.f('ck_grants_approver_office'), "plans_approved_by = 'home_office' OR office_id IS NOT NULL")


def downgrade():
    with op.batch_alter_table('grants', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('ck_grants_approver_office'), type_='check')
        batch_op.drop_constraint(batch_op.f('ck_grants_places_not_negative'), type_='check')
        batch_op.drop_constraint(batch_op.f('ck_grants_planapprover'), type_='check')
        batch_op.drop_constraint(batch_op.f('fk_grants_office_id_offices'), type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_grants_office_id'))
        batch_op.drop_column('reintegration_places')
        batch_op.drop_column('plans_approved_by')
        batch_op.drop_column('office_id')

    # rules for one country of return have no place in the old schema
    op.execute(sa.text('DELETE FROM budget_cap_rules WHERE return_country_code IS NOT NULL'))
    with op.batch_alter_table('budget_cap_rules', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('ck_budget_cap_rules_default_is_general'), type_='check')
        batch_op.drop_constraint(batch_op.f('ck_budget_cap_rules_departure_window'), type_='check')
        batch_op.drop_constraint(batch_op.f('ck_budget_cap_rules_adult_age_range'), type_='check')
        batch_op.drop_constraint(batch_op.f('ck_budget_cap_rules_household_range'), type_='check')
        batch_op.drop_index('uq_budget_cap_rules_grant_any_country', postgresql_where=sa.text('return_country_code IS NULL'), sqlite_where=sa.text('return_country_code IS NULL'))
        batch_op.drop_index('uq_budget_cap_rules_country_any_grant', postgresql_where=sa.text('grant_id IS NULL'), sqlite_where=sa.text('grant_id IS NULL'))
        batch_op.drop_constraint(batch_op.f('uq_budget_cap_rules_grant_id_return_country_code'), type_='unique')
        batch_op.create_unique_constraint(batch_op.f('uq_budget_cap_rules_grant_id'), ['grant_id'])
        batch_op.drop_column('max_departure_days')
        batch_op.drop_column('min_departure_days')
        batch_op.drop_column('max_household')
        batch_op.drop_column('return_country_code')
