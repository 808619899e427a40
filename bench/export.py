"""Streamed export of 100,000 cases to CSV and XLSX (issue 6, bench).

    .venv/bin/python -m bench.export --database-url postgresql://.../hub_bench_export

The database is brought to the migrations' head, its case tables emptied and 100,000 cases
generated (``bench.cases_list.generate``, set-based inserts). Then each format is exported
once in a fresh child process, as a programme manager through the Flask test client
(``/cases/?format=csv|xlsx``: every case), reading the streamed body chunk by chunk as a client
would. The child prints the wall time from the request to the last byte (and to the first),
the bytes and rows it received, and its peak resident memory (``VmHWM`` of its own ``/proc``
status: a fresh process, so the peak is the export's, imports included). Use a throw-away
database.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
import zipfile

import sqlalchemy as sa

from bench.cases_list import _office, _user, generate
from bench.harness import arguments, bench_app, migrated, stopwatch
from reintegration_hub.auth.models import User
from reintegration_hub.auth.services import start_session
from reintegration_hub.core.roles import OfficeKind, Role
from reintegration_hub.extensions import db

PM_EMAIL = "bench.pm@bench.example"


def rss_mb(field: str) -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(f"{field}:"):
                return int(line.split()[1]) / 1024
    return 0.0


def child(url: str, fmt: str, query: str = "") -> None:
    """One export in this process (``--child``); prints a JSON line of its figures."""
    app = bench_app(url)
    with app.app_context():
        manager = db.session.scalars(sa.select(User).where(User.email == PM_EMAIL)).one()
        start_session(manager)
        db.session.commit()
        user_id = manager.get_id()
        db.session.remove()
    client = app.test_client()
    with client.session_transaction() as session:
        session["_user_id"] = user_id
        session["_fresh"] = True
    before = rss_mb("VmRSS")
    start = time.perf_counter()
    response = client.get(f"/cases/?format={fmt}{query}", buffered=False)
    assert response.status_code == 200, response.status_code
    received = 0
    lines = 0
    first = None
    tail = tempfile.TemporaryFile() if fmt == "xlsx" else None  # noqa: SIM115
    for chunk in response.response:
        data = chunk if isinstance(chunk, bytes) else chunk.encode()
        if first is None:
            first = time.perf_counter() - start
        received += len(data)
        if tail is not None:
            tail.write(data)  # on disk, to check the workbook below
        else:
            lines += data.count(b"\n")
    response.close()
    seconds = time.perf_counter() - start
    peak = rss_mb("VmHWM")
    rows = lines - 1  # the header
    if tail is not None:
        with zipfile.ZipFile(tail) as workbook:
            sheet = workbook.read("xl/worksheets/sheet1.xml")
        rows = sheet.count(b"<row>") - 1
    figures = {"seconds": seconds, "first_byte": first, "bytes": received, "rows": rows}
    print(json.dumps(figures | {"rss_before": before, "rss_peak": peak}))


def main() -> None:
    parser = arguments(__doc__, database_required=True)
    parser.add_argument("--cases", type=int, default=100_000)
    parser.add_argument("--child", choices=("csv", "xlsx"))
    parser.add_argument("--query", default="", help="(child) more of the list's parameters")
    parser.add_argument("--skip-generate", action="store_true")
    args = parser.parse_args()
    if args.child:
        child(args.database_url, args.child, args.query)
        return
    with migrated(bench_app(args.database_url)):
        if not args.skip_generate:
            with stopwatch() as took:
                generate(args.cases)
            print(f"generated {args.cases} cases in {took():.1f} s")
        # the home office's programme manager sees every office (a host office's, its own only)
        home = _office("Bench home office", OfficeKind.HOME, "CH", "Geneva")
        _user(PM_EMAIL, Role.PROGRAMME_MANAGER, home)
        db.session.commit()
        total = db.session.scalar(sa.select(sa.func.count()).select_from(sa.table("returnees")))
    print(f"exporting {total} cases as a programme manager (all offices)")
    # the same process exporting no case at all: the memory a request needs without the rows
    nothing = "&number=NO-SUCH-CASE"
    runs = [("csv", ""), ("xlsx", ""), ("csv", nothing), ("xlsx", nothing)]
    for fmt, query in runs:
        output = subprocess.run(  # noqa: S603 - our own interpreter and module
            [sys.executable, "-m", "bench.export", "--database-url", args.database_url,
             "--child", fmt, "--query", query],
            capture_output=True, text=True, check=True,
        ).stdout  # fmt: skip
        figures = json.loads(output.strip().splitlines()[-1])
        print(
            f"  {fmt}{query}: {figures['seconds']:.1f} s "
            f"(first byte {figures['first_byte']:.2f} s), "
            f"{figures['rows']} rows, "
            f"{figures['bytes'] / 1e6:.1f} MB, peak RSS {figures['rss_peak']:.0f} MB "
            f"(after imports {figures['rss_before']:.0f} MB)"
        )


if __name__ == "__main__":
    main()
