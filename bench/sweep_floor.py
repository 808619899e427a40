"""The follow-up sweep as hand-written set-based SQL over every plan: the floor the flow is
measured against (issue 18, part 6). PostgreSQL only; bench code, not the application's.

The same end state as ``followups.sweep.sweep_range`` over all plans, in one transaction of
five statements: close the windows that ended and cancel the other open milestones of their
plans (one statement); make milestones overdue and due (one UPDATE) and write their reminders
from its ``RETURNING``; raise escalation levels (one UPDATE) and write the escalations from
its ``RETURNING``; write the in-app notices of the new notices' recipients and queue their
e-mails (one statement). The only Python is constant: the message texts per level, link and language
rendered once with markers (as the sweep renders them), the translated step names, the link
prefixes and the digest hour.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa
from flask import current_app
from flask_babel import force_locale

from reintegration_hub.core.inbox import SUMMARY_MAX, next_digest_at, summary_of
from reintegration_hub.core.outbox import app_paths, public_urls
from reintegration_hub.extensions import db
from reintegration_hub.followups.labels import DEFAULT_STEP_NAMES
from reintegration_hub.followups.sweep import _texts

_SENTINEL = 987654321
_MARK = "\x01"  # PostgreSQL text holds no NUL: the sweep's markers become \x01name\x01


def _split(adapter: Any, endpoint: str, key: str, **kwargs: Any) -> tuple[str, str]:
    built = str(adapter.build(endpoint, {key: _SENTINEL}, **kwargs))
    before, after = built.split(str(_SENTINEL))
    return before, after


def _constants(as_of: dt.date, now: dt.datetime) -> dict[str, Any]:
    languages = list(current_app.config["LANGUAGES"])
    wanted = {
        (level, delivery, lang)
        for level in (0, 1, 2)
        for delivery in (False, True)
        for lang in languages
    }
    texts = _texts(wanted)
    rows = []
    for (level, delivery, lang), text in texts.items():
        body = text.replace("\x00", _MARK)
        rows.append((level, delivery, lang, body, summary_of(body)))
    names = []
    for lang in languages:
        with force_locale(lang):
            names.extend((name, lang, str(label)) for name, label in DEFAULT_STEP_NAMES.items())
    links, paths = public_urls(), app_paths()
    plan_url = _split(links, "plans.plan", "case_id", force_external=True)
    line_url = _split(links, "deliveries.record", "line_id", force_external=True)
    plan_path = _split(paths, "plans.plan", "case_id")
    line_path = _split(paths, "deliveries.record", "line_id")
    return {
        "as_of": as_of,
        "now": now,
        "digest_at": next_digest_at(now, int(current_app.config["OUTBOX_DIGEST_HOUR"])),
        "languages": languages,
        "default_language": str(current_app.config["BABEL_DEFAULT_LOCALE"]),
        "t_level": [r[0] for r in rows],
        "t_delivery": [r[1] for r in rows],
        "t_language": [r[2] for r in rows],
        "t_body": [r[3] for r in rows],
        "t_summary": [r[4] for r in rows],
        "n_name": [n[0] for n in names],
        "n_language": [n[1] for n in names],
        "n_label": [n[2] for n in names],
        "plan_url_a": plan_url[0],
        "plan_url_b": plan_url[1],
        "line_url_a": line_url[0],
        "line_url_b": line_url[1],
        "plan_path_a": plan_path[0],
        "plan_path_b": plan_path[1],
        "line_path_a": line_path[0],
        "line_path_b": line_path[1],
        "summary_max": SUMMARY_MAX,
    }


_OPEN = "('upcoming', 'due', 'overdue')"

_CLOSE = f"""
WITH closed AS (
  UPDATE milestones SET status = 'done', completed_at = :now
  WHERE kind = 'window_closes' AND status IN {_OPEN} AND due_on <= :as_of
  RETURNING plan_id
), cancelled AS (
  UPDATE milestones SET status = 'cancelled'
  WHERE plan_id IN (SELECT plan_id FROM closed) AND status IN {_OPEN}
    AND kind <> 'window_closes'
  RETURNING id
)
SELECT (SELECT count(*) FROM closed), (SELECT count(*) FROM cancelled)
"""

_NEW_NOTICES = """
CREATE TEMP TABLE floor_new_notices (id bigint, milestone_id bigint, level int) ON COMMIT DROP
"""

_STATUSES = """
WITH changed AS (
  UPDATE milestones
  SET status = CASE WHEN due_on < :as_of THEN 'overdue' ELSE 'due' END
  WHERE (status IN ('upcoming', 'due') AND due_on < :as_of)
     OR (status = 'upcoming' AND remind_on <= :as_of)
  RETURNING id, status
), written AS (
  INSERT INTO milestone_notices (milestone_id, kind, level, on_date, created_at)
  SELECT id, 'reminder', 0, :as_of, :now FROM changed ORDER BY id
  ON CONFLICT (milestone_id, kind, level) DO NOTHING
  RETURNING id, milestone_id, level
), kept AS (INSERT INTO floor_new_notices SELECT * FROM written)
SELECT count(*) FILTER (WHERE status = 'overdue'), count(*) FILTER (WHERE status = 'due')
FROM changed
"""

_ESCALATIONS = """
WITH raised AS (
  UPDATE milestones AS m
  SET escalation_level = CASE WHEN home_office_on <= :as_of THEN 2 ELSE 1 END
  WHERE status = 'overdue'
    AND ((escalation_level < 2 AND home_office_on <= :as_of)
         OR (escalation_level < 1 AND supervisor_on <= :as_of))
    AND (SELECT r.status <> 'closed' AND (m.responsible = 'counsellor' OR r.shares_with_origin)
         FROM returnees AS r WHERE r.id = m.returnee_id) IS TRUE
  RETURNING id, supervisor_on IS NOT NULL AS supervised, escalation_level
), written AS (
  INSERT INTO milestone_notices (milestone_id, kind, level, on_date, created_at)
  SELECT id, 'escalation', level, :as_of, :now FROM (
    SELECT id, 1 AS level FROM raised WHERE supervised
    UNION ALL SELECT id, 2 FROM raised WHERE escalation_level = 2
  ) AS wanted ORDER BY id, level
  ON CONFLICT (milestone_id, kind, level) DO NOTHING
  RETURNING id, milestone_id, level
), kept AS (INSERT INTO floor_new_notices SELECT * FROM written)
SELECT count(*) FROM raised
"""

_MESSAGES = """
WITH texts AS (
  SELECT * FROM unnest(CAST(:t_level AS int[]), CAST(:t_delivery AS boolean[]),
                       CAST(:t_language AS text[]), CAST(:t_body AS text[]),
                       CAST(:t_summary AS text[]))
    AS t(level, delivery, language, body, summary)
), names AS (
  SELECT * FROM unnest(CAST(:n_name AS text[]), CAST(:n_language AS text[]),
                       CAST(:n_label AS text[])) AS n(name, language, label)
), home_office AS (
  SELECT u.email, u.id FROM users AS u JOIN offices AS o ON o.id = u.office_id
  WHERE u.role = 'programme_manager' AND u.is_active AND o.kind = 'home'
), notices AS MATERIALIZED (
  SELECT n.id AS notice_id, n.level, m.id AS milestone_id, m.name, m.due_on, m.responsible,
         m.kind, m.plan_line_id, r.id AS case_id, r.case_number,
         mgr.email AS manager_email, mgr.id AS manager_id,
         c.email AS counsellor_email, c.id AS counsellor_id,
         sup.email AS supervisor_email, sup.id AS supervisor_id,
         p.focal_point_email AS partner_email
  FROM floor_new_notices AS n
  JOIN milestones AS m ON m.id = n.milestone_id
  JOIN returnees AS r ON r.id = m.returnee_id
  LEFT JOIN users AS mgr ON mgr.id = r.case_manager_id AND mgr.is_active
  JOIN users AS c ON c.id = r.counsellor_id
  JOIN offices AS o ON o.id = m.office_id
  LEFT JOIN users AS sup ON sup.id = o.supervisor_id AND sup.is_active AND sup.office_id = o.id
  LEFT JOIN plan_lines AS pl ON pl.id = m.plan_line_id
  LEFT JOIN referrals AS rf ON rf.id = pl.referral_id
  LEFT JOIN partners AS p ON p.id = rf.partner_id
), addressed AS MATERIALIZED (
  SELECT notices.*, x.address, x.named_user_id,
         notices.level = 0 AND notices.kind = 'line_delivered' AS delivery
  FROM notices CROSS JOIN LATERAL (
    SELECT CASE WHEN responsible = 'counsellor' THEN counsellor_email
                WHEN responsible = 'partner' AND coalesce(partner_email, '') <> ''
                  THEN partner_email
                ELSE manager_email END,
           CASE WHEN responsible = 'counsellor' THEN counsellor_id
                WHEN responsible = 'partner' AND coalesce(partner_email, '') <> '' THEN NULL
                ELSE manager_id END
    WHERE level = 0
    UNION ALL SELECT supervisor_email, supervisor_id WHERE level = 1
    UNION ALL SELECT email, id FROM home_office WHERE level = 2
  ) AS x(address, named_user_id)
  WHERE coalesce(x.address, '') <> ''
), recipients AS MATERIALIZED (
  SELECT address,
    (SELECT u.id FROM users AS u
     WHERE u.email = lower(trim(address)) AND u.is_active LIMIT 1) AS account_id,
    coalesce(
      (SELECT u.preferred_language FROM users AS u WHERE u.email = lower(trim(address)) LIMIT 1),
      (SELECT p.contact_language FROM partners AS p
       WHERE lower(p.focal_point_email) = lower(trim(address)) AND p.contact_language <> ''
       ORDER BY p.id LIMIT 1)) AS found
  FROM (SELECT DISTINCT address FROM addressed) AS distinct_addresses
), messages AS MATERIALIZED (
  SELECT a.*,
    coalesce(a.named_user_id, rc.account_id) AS user_id,
    'milestone:' || a.milestone_id || ':' || a.level || ':'
      || left(encode(sha256(convert_to(a.address, 'UTF8')), 'hex'), 16)
      || CASE WHEN a.level > 0 THEN '\\:escalation' ELSE '' END AS key,
    CASE WHEN a.level > 0 THEN 'milestone:escalation' ELSE 'milestone' END AS message_kind,
    CASE WHEN rc.found = ANY(CAST(:languages AS text[])) THEN rc.found
         ELSE :default_language END AS language
  FROM addressed AS a JOIN recipients AS rc ON rc.address = a.address
), filled AS (
  SELECT msg.*, t.body, t.summary,
    coalesce(nm.label, msg.name) AS shown_name,
    CASE WHEN msg.delivery THEN :line_url_a || msg.plan_line_id || :line_url_b
         ELSE :plan_url_a || msg.case_id || :plan_url_b END AS url,
    CASE WHEN msg.delivery THEN :line_path_a || msg.plan_line_id || :line_path_b
         ELSE :plan_path_a || msg.case_id || :plan_path_b END AS app_link
  FROM messages AS msg
  JOIN texts AS t ON t.level = msg.level AND t.delivery = msg.delivery
                 AND t.language = msg.language
  LEFT JOIN names AS nm ON nm.name = msg.name AND nm.language = msg.language
), rendered AS MATERIALIZED (
  SELECT f.*,
    left(f.case_number || ': ' || f.shown_name || ' (' || f.due_on || ')', 300) AS subject,
    replace(replace(replace(replace(f.body, E'\\x01milestone\\x01', f.shown_name),
      E'\\x01number\\x01', f.case_number), E'\\x01date\\x01', CAST(f.due_on AS text)),
      E'\\x01url\\x01', f.url) AS body_text,
    replace(replace(replace(replace(f.summary, E'\\x01milestone\\x01', f.shown_name),
      E'\\x01number\\x01', f.case_number), E'\\x01date\\x01', CAST(f.due_on AS text)),
      E'\\x01url\\x01', f.url) AS summary_text
  FROM filled AS f
), inbox AS (
  INSERT INTO inbox_notices (key, kind, user_id, subject, summary, link, created_at, read_at)
  SELECT key, message_kind, user_id, subject,
         CASE WHEN length(summary_text) <= :summary_max THEN summary_text
              ELSE left(summary_text, :summary_max - 1) || '…' END,
         app_link, :now, NULL
  FROM rendered WHERE user_id IS NOT NULL
  ON CONFLICT (key) DO NOTHING
  RETURNING key
), chosen AS (
  SELECT rd.*,
    CASE WHEN rd.user_id IS NULL THEN 'immediately'
         WHEN rd.message_kind = 'milestone:escalation' THEN 'immediately'
         ELSE coalesce((SELECT np.email FROM notification_preferences AS np
                        WHERE np.user_id = rd.user_id AND np.kind = rd.message_kind),
                       'immediately') END AS choice
  FROM rendered AS rd
  WHERE rd.user_id IS NULL OR rd.key IN (SELECT key FROM inbox)
), queued AS (
  INSERT INTO outbox_messages (key, kind, notice_id, to_address, subject, body_text, language,
                               status, attempts, last_error, created_at, next_attempt_at,
                               sent_at, daily_digest)
  SELECT key, message_kind, notice_id, address, subject, body_text, language, 'queued', 0, '',
         :now, CASE WHEN choice = 'digest' THEN :digest_at ELSE :now END, NULL,
         choice = 'digest'
  FROM chosen WHERE choice <> 'none'
  ORDER BY notice_id, key
  ON CONFLICT (key) DO NOTHING
  RETURNING id
)
SELECT (SELECT count(*) FROM queued),
       (SELECT count(*) FROM floor_new_notices WHERE level = 0),
       (SELECT count(*) FROM floor_new_notices WHERE level > 0)
"""


def sweep_floor(as_of: dt.date, now: dt.datetime) -> dict[str, int]:
    """Sweep every plan as of ``as_of`` in this session's transaction (the caller commits);
    the counts ``SweepCounts`` has."""
    params = _constants(as_of, now)
    execute = db.session.execute
    # full-table statements cost enough for the JIT (~0.2 s of compiling for ~20 ms of work)
    execute(sa.text("SET LOCAL jit = off"))
    closed, cancelled = execute(sa.text(_CLOSE), params).one()
    execute(sa.text(_NEW_NOTICES))
    overdue, due = execute(sa.text(_STATUSES), params).one()
    escalated = execute(sa.text(_ESCALATIONS), params).scalar_one()
    messages, reminders, escalations = execute(sa.text(_MESSAGES), params).one()
    return {
        "closed_windows": int(closed),
        "cancelled": int(cancelled),
        "overdue": int(overdue),
        "due": int(due),
        "escalated": int(escalated),
        "reminders": int(reminders),
        "escalations": int(escalations),
        "messages": int(messages),
    }
