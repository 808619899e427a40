"""A follow-up sweep killed half way (SIGKILL, in a separate process) and run again ends exactly
where an uninterrupted sweep of the same data ends, and queues every message once.

The data (one plan approved through the services, a few hundred bulk-inserted ones with their
milestones) are swept to the end once from a snapshot; the snapshot is restored, a sweep is
started in a child process and killed at some point after its first commit, and the
sweep is run again to the end. Both ways are checked: ``flask followups tick`` (a range per
transaction, in turn; run again as ``sweep``) and ``track_milestones`` (a Prefect task per
range, four at a time, against the session's test server).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import random
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask

from reintegration_hub.cases.models import Returnee
from reintegration_hub.core.inbox import InboxNotice
from reintegration_hub.core.outbox import OutboxMessage
from reintegration_hub.extensions import db
from reintegration_hub.followups.models import (
    Milestone,
    MilestoneKind,
    MilestoneNotice,
    MilestoneStatus,
    MilestoneStep,
    MilestoneTemplate,
)
from reintegration_hub.followups.sweep import sweep
from reintegration_hub.plans.models import Plan, PlanStatus
from tests.followups.helpers import approved
from tests.plans.helpers import World, world
from workflows.milestones import track_milestones

AS_OF = dt.date(2026, 6, 1)
PLANS = 400
# plans a range: the CLI sweeps 81 ranges in turn, the flow 21 four at a time (a task run costs
# more than a range); killed after its first commits, either has most of them left
BATCH_SIZE = {"cli": 5, "flow": 20}
DEADLINE_SECONDS = 60
KILL_WITHIN_SECONDS = 0.05  # of the first commit (a range takes ~10-30 ms, the sweep seconds)

# the flow in a child process, with the CLI's options
FLOW = (
    "import asyncio, datetime, sys\n"
    "from workflows.milestones import track_milestones\n"
    "asyncio.run(track_milestones(\n"
    "    as_of=datetime.date.fromisoformat(sys.argv[2]), batch_size=int(sys.argv[4])\n"
    "))"
)


@dataclass(frozen=True)
class Outcome:
    """What a sweep decided: every milestone's state, the notices, the e-mails' keys."""

    milestones: list[tuple[int, str, int]]
    notices: list[tuple[int, str, int]]
    keys: list[str]


@dataclass(frozen=True)
class Snapshot:
    milestones: list[dict[str, Any]]
    last_notice_id: int
    last_message_id: int
    last_inbox_id: int  # the in-app notices written with the e-mails (core.inbox)


def build() -> None:
    """A plan approved through the services (a partner's line among its milestones), and
    ``PLANS`` more approved plans with the default template's milestones, returned over the
    400 days before ``AS_OF``: due, overdue, escalated, windows closing."""
    w: World = world()
    w.tbilisi.supervisor_id = w.case_manager.id
    w.case.departed_on = AS_OF - dt.timedelta(days=100)
    approved(w, w.option())
    db.session.flush()
    template = db.session.scalars(
        sa.select(MilestoneTemplate).where(MilestoneTemplate.is_default)
    ).one()
    steps = db.session.scalars(
        sa.select(MilestoneStep).where(
            MilestoneStep.template_id == template.id,
            MilestoneStep.kind != MilestoneKind.LINE_DELIVERED,
        )
    ).all()
    returned = {n: AS_OF - dt.timedelta(days=n * 401 // PLANS) for n in range(PLANS)}
    db.session.execute(
        sa.insert(Returnee),
        [
            {
                "case_number": f"LV-CRASH-{n:04d}",
                "first_name": f"Crash{n}",
                "last_name": "Test",
                "date_of_birth": dt.date(1990, 1, 1),
                "sex": "male",
                "nationality": "GE",
                "return_country_code": "GE",
                "host_office_id": w.riga.id,
                "counsellor_id": w.counsellor.id,
                "origin_office_id": w.tbilisi.id,
                "case_manager_id": w.case_manager.id,
                "legal_status": "irregular_stay",
                "status": "monitoring",
                "shares_with_origin": True,
                "departed_on": returned[n],
            }
            for n in range(PLANS)
        ],
    )
    cases = dict(
        db.session.execute(
            sa.select(Returnee.case_number, Returnee.id).where(
                Returnee.case_number.like("LV-CRASH-%")
            )
        )
        .tuples()
        .all()
    )
    db.session.execute(
        sa.insert(Plan),
        [
            {"returnee_id": cases[f"LV-CRASH-{n:04d}"], "status": PlanStatus.APPROVED}
            for n in range(PLANS)
        ],
    )
    plans = dict(
        db.session.execute(
            sa.select(Plan.returnee_id, Plan.id).where(Plan.returnee_id.in_(cases.values()))
        )
        .tuples()
        .all()
    )
    rows = []
    for n in range(PLANS):
        case_id = cases[f"LV-CRASH-{n:04d}"]
        for step in steps:
            closes = step.kind == MilestoneKind.WINDOW_CLOSES
            due = returned[n] + dt.timedelta(
                days=step.offset_days + (template.grace_days if closes else 0)
            )
            done = step.kind == MilestoneKind.PLAN_AGREED
            rows.append(
                {
                    "plan_id": plans[case_id],
                    "returnee_id": case_id,
                    "office_id": w.tbilisi.id,
                    "step_key": step.key,
                    "kind": step.kind,
                    "name": step.name,
                    "responsible": step.responsible,
                    "due_on": due,
                    "remind_on": due - dt.timedelta(days=step.reminder_days),
                    "supervisor_on": None
                    if step.supervisor_after_days is None
                    else due + dt.timedelta(days=step.supervisor_after_days),
                    "home_office_on": None
                    if step.home_office_after_days is None
                    else due + dt.timedelta(days=step.home_office_after_days),
                    "status": MilestoneStatus.DONE if done else MilestoneStatus.UPCOMING,
                    "completed_at": dt.datetime.combine(due, dt.time(12), dt.UTC) if done else None,
                }
            )
    db.session.execute(sa.insert(Milestone), rows)
    db.session.commit()


def snapshot() -> Snapshot:
    states = db.session.execute(
        sa.select(
            Milestone.id, Milestone.status, Milestone.escalation_level, Milestone.completed_at
        )
    ).all()
    snap = Snapshot(
        milestones=[row._asdict() for row in states],
        last_notice_id=db.session.scalar(sa.select(sa.func.max(MilestoneNotice.id))) or 0,
        last_message_id=db.session.scalar(sa.select(sa.func.max(OutboxMessage.id))) or 0,
        last_inbox_id=db.session.scalar(sa.select(sa.func.max(InboxNotice.id))) or 0,
    )
    db.session.commit()
    return snap


def restore(snap: Snapshot) -> None:
    db.session.execute(sa.update(Milestone), snap.milestones)
    db.session.execute(sa.delete(MilestoneNotice).where(MilestoneNotice.id > snap.last_notice_id))
    db.session.execute(sa.delete(OutboxMessage).where(OutboxMessage.id > snap.last_message_id))
    db.session.execute(sa.delete(InboxNotice).where(InboxNotice.id > snap.last_inbox_id))
    db.session.commit()


def outcome() -> Outcome:
    db.session.commit()  # a fresh snapshot of the database (SQLite keeps one per transaction)
    result = Outcome(
        milestones=[
            (id_, status.value, level)
            for id_, status, level in db.session.execute(
                sa.select(Milestone.id, Milestone.status, Milestone.escalation_level).order_by(
                    Milestone.id
                )
            )
        ],
        notices=sorted(
            (milestone_id, kind.value, level)
            for milestone_id, kind, level in db.session.execute(
                sa.select(MilestoneNotice.milestone_id, MilestoneNotice.kind, MilestoneNotice.level)
            )
        ),
        keys=sorted(db.session.scalars(sa.select(OutboxMessage.key))),
    )
    db.session.commit()
    return result


def counts() -> tuple[int, int]:
    """Notices and e-mails committed so far. Read on a driver connection: on SQLite a plain
    read, where a session's transaction would take the write lock (``BEGIN IMMEDIATE``) and
    keep the sweep waiting."""
    connection = db.engine.raw_connection()
    try:
        cursor = connection.cursor()
        cursor.execute(
            "SELECT (SELECT count(*) FROM milestone_notices),"
            " (SELECT count(*) FROM outbox_messages)"
        )
        notices, messages = cursor.fetchone()
        cursor.close()
    finally:
        connection.close()
    return notices, messages


def sweep_here(how: str) -> int:
    """Sweep to the end in this process, as the CLI does or through the flow; the number of
    e-mails queued."""
    if how == "cli":
        return sweep(AS_OF, batch_size=BATCH_SIZE[how]).messages
    return asyncio.run(track_milestones(as_of=AS_OF, batch_size=BATCH_SIZE[how])).messages


def kill_half_way(how: str, database_url: str, root: Path, log: Path) -> None:
    """Start the sweep in a child process (``flask followups tick`` or the flow) and SIGKILL it
    once it has committed its first notices, a moment later (drawn from a generator seeded by
    ``how``: the same moment on every run)."""
    env = os.environ | {
        "HUB_ENV": "testing",
        "HUB_DATABASE_URL": database_url,
        "HUB_SECRET_KEY": "test-secret",
    }
    if how == "cli":
        command = [sys.executable, "-m", "flask", "--app", "wsgi", "followups", "tick"]
    else:
        from prefect.settings import PREFECT_API_URL

        env["PREFECT_API_URL"] = str(PREFECT_API_URL.value())
        command = [sys.executable, "-c", FLOW]
    command += ["--as-of", AS_OF.isoformat(), "--batch-size", str(BATCH_SIZE[how])]
    with log.open("w") as output:
        process = subprocess.Popen(command, cwd=root, env=env, stdout=output, stderr=output)
        deadline = time.monotonic() + DEADLINE_SECONDS
        try:
            while counts()[0] == 0 and process.poll() is None and time.monotonic() < deadline:
                time.sleep(0.01)
            # then at some point of the ranges that follow, not always right after a commit
            time.sleep(random.Random(f"kill-{how}").uniform(0, KILL_WITHIN_SECONDS))
        finally:
            process.kill()
            process.wait()
    assert process.returncode == -signal.SIGKILL, (
        f"the sweep ended by itself ({process.returncode}) before it could be killed:\n"
        + log.read_text()
    )
    assert counts()[0] > 0, "the sweep wrote nothing in time:\n" + log.read_text()


@pytest.mark.commits  # a child process sweeps the same rows
@pytest.mark.parametrize(
    "how", ["cli", pytest.param("flow", marks=pytest.mark.orchestrated)], ids=str
)
def test_a_sweep_killed_half_way_and_run_again_ends_as_an_uninterrupted_one(
    app: Flask,
    database_url: str,
    repo_root: Path,
    tmp_path: Path,
    request: pytest.FixtureRequest,
    how: str,
) -> None:
    if how == "flow":  # a test server, and the app the flow's tasks build from the environment
        request.getfixturevalue("prefect_server")
        request.getfixturevalue("worker_app")
    build()
    snap = snapshot()
    before = len(outcome().keys)

    queued = sweep_here(how)
    uninterrupted = outcome()
    assert len(uninterrupted.keys) == before + queued
    assert len(uninterrupted.notices) > 1000  # reminders and both escalation levels

    restore(snap)
    assert counts() == (0, before)
    kill_half_way(how, database_url, repo_root, tmp_path / "sweep.log")
    notices_done, messages_done = counts()
    # killed with work left: the comparison below is not vacuous
    assert 0 < notices_done < len(uninterrupted.notices)
    queued_again = sweep_here(how)
    crashed = outcome()

    assert crashed == uninterrupted
    assert len(crashed.keys) == len(set(crashed.keys))
    assert len(crashed.notices) == len(set(crashed.notices))
    # the re-run queued exactly the e-mails the killed run had not committed
    assert messages_done + queued_again == before + queued
