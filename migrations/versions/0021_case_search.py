"""case search: the search keys of the case number, the returnee's names and the contact

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-06 19:15:00

The case search (reintegration_hub.cases.search) matches names through keys stored with the
case: the name transliterated to Latin letters (anyascii), lower case, letters only, and its
sound key (vowels after the first letter, doubled letters and sound-alikes folded); phone
numbers through the digits of the contact after return, last first (a number is searched by its
end); case numbers through their serial (the digits at their end). Cases registered before are
filled here
in batches, by the rules the code uses (copied, so that this migration keeps its meaning when
the code changes; a test compares the two). Anonymised cases have blank names, hence blank keys.
"""
import re

from alembic import op
from anyascii import anyascii
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0021'
down_revision = '0020'
branch_labels = None
depends_on = None

_BATCH = 5000
_KEY_LENGTH = 120
_NOT_LETTERS = re.compile(r'[^a-z]+')
_NOT_DIGITS = re.compile(r'\D+')
_TAIL = re.compile(r'\d{1,9}$')
_SOUNDS = (
    ('sch', 'sh'), ('tch', 'ch'), ('ph', 'f'), ('kh', 'k'), ('gh', 'g'), ('sh', 's'),
    ('zh', 'z'), ('ch', 'c'), ('th', 't'),
    ('x', 'ks'), ('w', 'v'), ('q', 'k'), ('c', 'k'), ('z', 's'), ('j', 'i'), ('y', 'i'),
)
_VOWELS = frozenset('aeiou')
#: the new columns, each indexed
_COLUMNS = (
    ('case_number_tail', sa.Integer()),
    ('first_name_key', sa.String(length=120)), ('last_name_key', sa.String(length=120)),
    ('first_name_sound', sa.String(length=120)), ('last_name_sound', sa.String(length=120)),
    ('phone_key', sa.String(length=500)),
)

returnees = sa.table(
    'returnees',
    sa.column('id', sa.Integer), sa.column('case_number', sa.String),
    sa.column('first_name', sa.String), sa.column('last_name', sa.String),
    sa.column('contact_after_return', sa.String),
    *(sa.column(name, type_) for name, type_ in _COLUMNS),
)


def _name_key(text):
    return _NOT_LETTERS.sub('', anyascii(text or '').lower())[:_KEY_LENGTH]


def _sound_key(text):
    key = _name_key(text)
    for written, sound in _SOUNDS:
        key = key.replace(written, sound)
    if not key:
        return ''
    folded = ['a' if key[0] in _VOWELS or key[0] == 'i' else key[0]]
    for letter in key[1:]:
        if letter in _VOWELS or letter == 'i':
            continue
        if letter != folded[-1]:
            folded.append(letter)
    return ''.join(folded)[:_KEY_LENGTH]


def _keys(case_number, first_name, last_name, contact):
    tail = _TAIL.search(case_number)
    return {
        'new_case_number_tail': int(tail.group()) if tail else 0,
        'new_first_name_key': _name_key(first_name),
        'new_last_name_key': _name_key(last_name),
        'new_first_name_sound': _sound_key(first_name),
        'new_last_name_sound': _sound_key(last_name),
        'new_phone_key': _NOT_DIGITS.sub('', contact or '')[-500:][::-1],
    }


def _backfill(connection):
    last_id = 0
    while True:
        rows = connection.execute(
            sa.select(returnees.c.id, returnees.c.case_number, returnees.c.first_name,
                      returnees.c.last_name, returnees.c.contact_after_return)
            .where(returnees.c.id > last_id).order_by(returnees.c.id).limit(_BATCH)
        ).all()
        if not rows:
            return
        last_id = rows[-1][0]
        connection.execute(
            returnees.update().where(returnees.c.id == sa.bindparam('case_id'))
            .values({name: sa.bindparam(f'new_{name}') for name, _ in _COLUMNS}),
            [{'case_id': case_id, **_keys(number, first, last, contact)}
             for case_id, number, first, last, contact in rows],
        )


def upgrade():
    for name, type_ in _COLUMNS:
        op.add_column('returnees', sa.Column(name, type_, nullable=True))
    _backfill(op.get_bind())
    with op.batch_alter_table('returnees', schema=None) as batch_op:
        for name, type_ in _COLUMNS:
            batch_op.alter_column(name, existing_type=type_, nullable=False)
        for name, _ in _COLUMNS:
            batch_op.create_index(batch_op.f(f'ix_returnees_{name}'), [name], unique=False)


def downgrade():
    with op.batch_alter_table('returnees', schema=None) as batch_op:
        for name, _ in _COLUMNS:
            batch_op.drop_index(batch_op.f(f'ix_returnees_{name}'))
        for name, _ in reversed(_COLUMNS):
            batch_op.drop_column(name)
