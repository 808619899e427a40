"""Backups of an instance: its database and its file stores (handover certificates, case
documents), taken consistent with each other, restored, and drilled.

A backup is a directory:

``manifest.json``
    The format, when it was taken, the database's dialect and migration revision, and for each
    store the SHA-256 of every file copied and the files the database refers to that were not
    there (``missing``).
``database.dump`` | ``database.sqlite3``
    PostgreSQL: ``pg_dump --format=custom`` (restored by ``pg_restore``). SQLite: a copy made by
    SQLite's online backup API (a consistent copy while the app keeps writing).
``certificates/``, ``documents/``
    The stored files as they are on disk: certificates plain, documents still encrypted with
    the ``DOCUMENT_KEYS`` (Fernet), which are secrets and never part of a backup.

**Consistency: the database first, then the files.** A file is written before the row that
refers to it is committed, and a stored file never changes (key rotation replaces it whole,
decryptable by old and new keys). So every file a committed row names exists before the
database is copied, and copying the files after the database's snapshot finds them all. The
references are read in that very snapshot (on PostgreSQL the dump runs in a snapshot exported
by the transaction that reads them; on SQLite they are read from the copy). Files uploaded
after the snapshot come along too, referred to by nothing (harmless); a file removed after the
snapshot (a document removed, a case's retention) is listed as ``missing``: the restored case
lists it, and its download answers that the file is not kept any more, as the live one does.

The drill renders a case through the application (its page, plan and documents, signed in as
an administrator, in a transaction rolled back so that it writes nothing), backs up, restores
into a new database and file store, renders the same case there and downloads the same files,
and compares.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import secrets
import shutil
import sqlite3
import subprocess
import tempfile
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic.script import ScriptDirectory
from flask import Flask, current_app, url_for
from flask_sqlalchemy.session import Session
from sqlalchemy.engine import URL, make_url

from reintegration_hub.auth.models import User
from reintegration_hub.auth.services import start_session
from reintegration_hub.core import files
from reintegration_hub.core.db import now_utc
from reintegration_hub.core.roles import Role
from reintegration_hub.extensions import db

FORMAT = 1
MANIFEST = "manifest.json"
PG_DUMP = "database.dump"
SQLITE_COPY = "database.sqlite3"
#: The testing key of an app without DOCUMENT_KEYS (cases.documents keeps it there).
TESTING_KEY = "hub_document_key"


class BackupError(RuntimeError):
    """The backup or restore cannot go on; the message says why and what to do."""


@dataclass(frozen=True)
class FileStore:
    """A directory of stored files and the column of the rows that name them."""

    name: str
    setting: str
    table: str
    column: str
    kept: str = "TRUE"  # SQL condition of the rows whose file is kept

    def directory(self) -> Path:
        return files.storage_dir(self.setting, self.name)

    def referenced(self, connection: sa.Connection) -> set[str]:
        statement = f"SELECT {self.column} FROM {self.table} WHERE {self.kept}"  # noqa: S608 - constants
        return set(connection.exec_driver_sql(statement).scalars())


#: The stores, by their setting (and default directory under the instance folder, their name)
#: and the column that names their files: tables and columns rather than the models, which
#: belong to areas above operations (the import contracts in setup.cfg).
STORES = (
    FileStore("certificates", "CERTIFICATE_DIR", "deliveries", "certificate_key"),
    FileStore("documents", "DOCUMENT_DIR", "case_documents", "storage_key", "removed_at IS NULL"),
)


# --- the database ----------------------------------------------------------------------------


def _url() -> URL:
    return make_url(current_app.config["SQLALCHEMY_DATABASE_URI"])


def _libpq(url: URL) -> tuple[str, dict[str, str]]:
    """A libpq address for the PostgreSQL tools, its password in the environment instead."""
    environment = dict(os.environ)
    if url.password:
        environment["PGPASSWORD"] = str(url.password)
    address = url.set(drivername="postgresql", password=None)
    return address.render_as_string(hide_password=False), environment


def _tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        raise BackupError(f"{name} is not installed: install the PostgreSQL client tools")
    return found


def _major(version_text: str) -> int:
    """The major version in ``pg_dump --version``'s answer: ``pg_dump (PostgreSQL) 15.20 ...``."""
    found = re.search(r"\(PostgreSQL\)\s+(\d+)", version_text)
    if found is None:
        raise BackupError(f"cannot read a version in {version_text!r}")
    return int(found.group(1))


def check_pg_tools(connection: sa.Connection) -> None:
    """pg_dump and pg_restore must be of the server's major version or newer (pg_dump refuses an
    older one; an archive of a newer pg_dump is not read by an older pg_restore)."""
    server = int(connection.exec_driver_sql("SHOW server_version_num").scalar_one()) // 10000
    for name in ("pg_dump", "pg_restore"):
        output = subprocess.run(  # noqa: S603 - the PostgreSQL tool found on PATH
            [_tool(name), "--version"], capture_output=True, text=True, check=True
        ).stdout
        if _major(output) < server:
            raise BackupError(
                f"{name} is version {output.strip()}, older than the server's {server}: "
                f"install the client tools of PostgreSQL {server}"
            )


def _revision(connection: sa.Connection) -> str:
    return str(connection.exec_driver_sql("SELECT version_num FROM alembic_version").scalar_one())


def _dump_postgres(target: Path) -> tuple[str, dict[str, set[str]]]:
    url = _url()
    address, environment = _libpq(url)
    with db.engine.connect() as connection:
        check_pg_tools(connection)
    with db.engine.connect() as connection:
        connection = connection.execution_options(isolation_level="REPEATABLE READ")
        with connection.begin():
            snapshot = connection.exec_driver_sql("SELECT pg_export_snapshot()").scalar_one()
            revision = _revision(connection)
            referenced = {store.name: store.referenced(connection) for store in STORES}
            result = subprocess.run(  # noqa: S603 - pg_dump, arguments of our own
                [
                    _tool("pg_dump"),
                    "--format=custom",
                    f"--snapshot={snapshot}",
                    f"--file={target / PG_DUMP}",
                    f"--dbname={address}",
                ],
                env=environment,
                capture_output=True,
                text=True,
                check=False,
            )
    if result.returncode:
        raise BackupError(f"pg_dump failed: {result.stderr.strip()}")
    return revision, referenced


def _sqlite_path(url: URL) -> Path:
    if not url.database or url.database == ":memory:":
        raise BackupError("an in-memory SQLite database has nothing to back up")
    return Path(url.database)


def _copy_sqlite(source: Path, target: Path) -> None:
    """SQLite's online backup: a consistent copy while other connections write."""
    with (
        sqlite3.connect(source) as reader,
        sqlite3.connect(target) as writer,
    ):
        reader.backup(writer)
    reader.close()
    writer.close()


def _dump_sqlite(target: Path) -> tuple[str, dict[str, set[str]]]:
    copy = target / SQLITE_COPY
    _copy_sqlite(_sqlite_path(_url()), copy)
    engine = sa.create_engine(f"sqlite:///{copy}")
    try:
        with engine.connect() as connection:
            revision = _revision(connection)
            referenced = {store.name: store.referenced(connection) for store in STORES}
    finally:
        engine.dispose()
    return revision, referenced


# --- the files -------------------------------------------------------------------------------


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as file:
        for chunk in iter(lambda: file.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _stored(directory: Path) -> list[Path]:
    """The stored files of a directory (named by ``files.KEY``; half-written uploads are not)."""
    if not directory.is_dir():
        return []
    return sorted(p for p in directory.iterdir() if p.is_file() and files.KEY.fullmatch(p.name))


def _copy_store(store: FileStore, target: Path, referenced: set[str]) -> dict[str, Any]:
    target.mkdir(mode=0o700)
    copied: dict[str, str] = {}
    for path in _stored(store.directory()):
        try:
            shutil.copyfile(path, target / path.name)
        except FileNotFoundError:  # removed since it was listed
            continue
        copied[path.name] = _sha256(target / path.name)
    return {"files": copied, "missing": sorted(referenced - copied.keys())}


# --- backup ----------------------------------------------------------------------------------


def create_backup(target: Path) -> dict[str, Any]:
    """Back the database and the file stores up into ``target`` (new or empty): the database
    first, then the files (see the module's docstring). Returns the manifest, also written as
    ``manifest.json``, last: a directory without one is an unfinished backup."""
    target.mkdir(mode=0o700, parents=True, exist_ok=True)
    if any(target.iterdir()):
        raise BackupError(f"{target} is not empty: back up into a new directory")
    dialect = db.engine.dialect.name
    started = now_utc()
    if dialect == "postgresql":
        revision, referenced = _dump_postgres(target)
        database = PG_DUMP
    elif dialect == "sqlite":
        revision, referenced = _dump_sqlite(target)
        database = SQLITE_COPY
    else:
        raise BackupError(f"no backup for a {dialect} database")
    manifest = {
        "format": FORMAT,
        "created_at": started.isoformat(),
        "dialect": dialect,
        "revision": revision,
        "database": database,
        "stores": {
            store.name: _copy_store(store, target / store.name, referenced[store.name])
            for store in STORES
        },
    }
    (target / MANIFEST).write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n")
    return manifest


# --- restore ---------------------------------------------------------------------------------


def read_manifest(source: Path) -> dict[str, Any]:
    try:
        manifest: dict[str, Any] = json.loads((source / MANIFEST).read_text())
    except FileNotFoundError:
        raise BackupError(
            f"{source} holds no {MANIFEST}: not a backup, or an unfinished one"
        ) from None
    except ValueError:
        raise BackupError(f"{source / MANIFEST} is not readable JSON") from None
    if manifest.get("format") != FORMAT:
        raise BackupError(f"{source} is a backup of format {manifest.get('format')}, not {FORMAT}")
    return manifest


def _check_revision(revision: str) -> None:
    config = current_app.extensions["migrate"].migrate.get_config()
    scripts = ScriptDirectory.from_config(config)
    try:
        known = scripts.get_revision(revision)
    except Exception:  # alembic raises several kinds for an unknown revision
        known = None
    if known is None:
        raise BackupError(
            f"the backup's database is at migration {revision}, which this release does not "
            "know: restore it with the release that made it"
        )


def _database_has_tables() -> bool:
    return bool(sa.inspect(db.engine).get_table_names())


def _restore_postgres(source: Path, *, force: bool) -> None:
    address, environment = _libpq(_url())
    with db.engine.connect() as connection:
        check_pg_tools(connection)
    if force:
        with db.engine.begin() as connection:
            names = sa.inspect(connection).get_table_names()
            if names:
                quoted = ", ".join(f'"{name}"' for name in names)
                connection.exec_driver_sql(f"DROP TABLE IF EXISTS {quoted} CASCADE")
    db.engine.dispose()
    result = subprocess.run(  # noqa: S603 - pg_restore, arguments of our own
        [
            _tool("pg_restore"),
            "--no-owner",
            "--no-privileges",
            "--single-transaction",
            "--exit-on-error",
            f"--dbname={address}",
            str(source / PG_DUMP),
        ],
        env=environment,
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode:
        raise BackupError(f"pg_restore failed (nothing restored): {result.stderr.strip()}")


def _restore_sqlite(source: Path) -> None:
    target = _sqlite_path(_url())
    target.parent.mkdir(parents=True, exist_ok=True)
    db.engine.dispose()
    _copy_sqlite(source / SQLITE_COPY, target)


def verify_backup(source: Path, manifest: Mapping[str, Any]) -> None:
    """Every file of the manifest is in the backup with its SHA-256, and the database's copy is
    there; BackupError naming the first that is not."""
    if manifest.get("database") not in {PG_DUMP, SQLITE_COPY}:
        raise BackupError(f"{source / MANIFEST} names no database copy it could hold")
    if not (source / manifest["database"]).is_file():
        raise BackupError(f"{source / manifest['database']} is missing: the backup is damaged")
    for store in STORES:
        for key, digest in manifest["stores"][store.name]["files"].items():
            path = source / store.name / key
            if not files.KEY.fullmatch(key):
                raise BackupError(f"{store.name}: {key!r} is not a stored file's name")
            if not path.is_file() or _sha256(path) != digest:
                raise BackupError(
                    f"{store.name}/{key} differs from the manifest: the backup is damaged"
                )


def _restore_store(store: FileStore, source: Path, kept: Mapping[str, str]) -> int:
    directory = store.directory()
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    for path in _stored(directory):
        path.unlink()
    for key in sorted(kept):
        files.write_file(directory, (source / key).read_bytes(), key=key)
    return len(kept)


def restore_backup(source: Path, *, force: bool = False) -> dict[str, Any]:
    """Restore the backup in ``source`` into this app's database and file stores.

    Refuses (BackupError) a backup of another dialect or of a migration this release does not
    know, a damaged one (a file that differs from the manifest's SHA-256), and a database with
    tables or a store with files unless ``force``, which replaces them; all checked before
    anything changes. The database is restored first, in one transaction; then the files.
    Returns the manifest."""
    manifest = read_manifest(source)
    dialect = db.engine.dialect.name
    if manifest["dialect"] != dialect:
        raise BackupError(f"a backup of a {manifest['dialect']} database, this one is {dialect}")
    _check_revision(manifest["revision"])
    verify_backup(source, manifest)
    if not force:
        occupied = [store.name for store in STORES if _stored(store.directory())]
        if _database_has_tables():
            occupied.insert(0, "the database")
        if occupied:
            raise BackupError(
                f"{' and '.join(occupied)} already hold data: restore into an empty database "
                "and empty stores, or give --force to replace them"
            )
    if dialect == "postgresql":
        _restore_postgres(source, force=force)
    else:
        _restore_sqlite(source)
    for store in STORES:
        _restore_store(store, source / store.name, manifest["stores"][store.name]["files"])
    return manifest


# --- the drill -------------------------------------------------------------------------------


class _OneConnection(Session):
    """A session on one given connection, whatever bind the app would choose."""

    def get_bind(self, *args: Any, **kwargs: Any) -> Any:
        return self.bind


@contextmanager
def rolled_back() -> Iterator[None]:
    """This app's sessions on one connection, in a transaction rolled back at the end: a view's
    commit only releases a savepoint, so reading pages (sign-in, audited reads) writes nothing."""
    factory = db.session.session_factory
    saved_class, saved_kw = factory.class_, dict(factory.kw)
    db.session.remove()
    connection = db.engine.connect()
    outer = connection.begin()
    factory.class_ = _OneConnection
    factory.kw = {**saved_kw, "bind": connection, "join_transaction_mode": "create_savepoint"}
    try:
        yield
    finally:
        db.session.remove()
        factory.class_, factory.kw = saved_class, saved_kw
        outer.rollback()
        connection.close()


_VOLATILE = (
    (re.compile(r'(name="[^"]*csrf_token"[^>]*?value=")[^"]*"'), r'\1"'),
    (re.compile(r'(name="csrf-token"[^>]*?content=")[^"]*"'), r'\1"'),
    (re.compile(r'nonce="[^"]*"'), 'nonce=""'),
    (
        re.compile(r"\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}(:\d{2}(\.\d+)?)?([+-]\d{2}:?\d{2}|Z)?"),
        "<time>",
    ),
)


def normalised(html: str) -> str:
    """A page without what differs between two renderings of the same data: CSRF tokens,
    nonces, times of day (the access log's own read, at the moment of rendering)."""
    for pattern, replacement in _VOLATILE:
        html = pattern.sub(replacement, html)
    return html


@dataclass
class Rendering:
    """What a case serves: its pages (status and normalised HTML) and its files' bytes."""

    pages: dict[str, tuple[int, str]] = field(default_factory=dict)
    downloads: dict[str, tuple[int, bytes]] = field(default_factory=dict)


def _case_files(case_id: int) -> tuple[list[int], list[int]]:
    """The case's kept documents and its deliveries with a certificate."""
    documents = db.session.execute(
        sa.text(
            "SELECT id FROM case_documents WHERE returnee_id = :case AND removed_at IS NULL "
            "ORDER BY id"
        ),
        {"case": case_id},
    ).scalars()
    deliveries = db.session.execute(
        sa.text(
            "SELECT d.id FROM deliveries d JOIN plan_lines l ON l.id = d.plan_line_id "
            "JOIN plans p ON p.id = l.plan_id WHERE p.returnee_id = :case ORDER BY d.id"
        ),
        {"case": case_id},
    ).scalars()
    return list(documents), list(deliveries)


def render_case(app: Flask, case_id: int, email: str) -> Rendering:
    """The case's page, plan and documents, and its files, as ``email`` is served them, in an
    app context of their own (the requests share it: its signed-in user) and a transaction
    rolled back (nothing is written). BackupError unless the case page answers 200."""
    rendering = Rendering()
    with app.app_context(), rolled_back():
        user = db.session.scalars(sa.select(User).where(User.email == email)).one()
        start_session(user)
        db.session.commit()
        client = app.test_client()
        with client.session_transaction() as session:
            session["_user_id"] = user.get_id()
            session["_fresh"] = True
        documents, deliveries = _case_files(case_id)
        with app.test_request_context():
            pages = [
                url_for("cases.show", case_id=case_id),
                url_for("plans.plan", case_id=case_id),
                url_for("cases.case_documents", case_id=case_id),
            ]
            downloads = [url_for("cases.document_file", document_id=d) for d in documents] + [
                url_for("deliveries.certificate", delivery_id=d) for d in deliveries
            ]
        for path in pages:
            answer = client.get(path)
            rendering.pages[path] = (answer.status_code, normalised(answer.get_data(as_text=True)))
        for path in downloads:
            answer = client.get(path)
            rendering.downloads[path] = (answer.status_code, answer.get_data())
    status = rendering.pages[pages[0]][0]
    if status != 200:
        raise BackupError(f"{pages[0]} answered {status} to {email}: choose another case or reader")
    return rendering


def differences(original: Rendering, restored: Rendering) -> list[str]:
    """What the restored copy serves differently, one line each (none: the drill passed)."""
    found = []
    for path, (status, html) in original.pages.items():
        other_status, other_html = restored.pages.get(path, (0, ""))
        if status != other_status:
            found.append(f"{path}: status {status} here, {other_status} restored")
        elif html != other_html:
            lines = zip([*html.splitlines(), ""], [*other_html.splitlines(), ""], strict=False)
            number, (here, there) = next(
                (i, pair) for i, pair in enumerate(lines, 1) if pair[0] != pair[1]
            )
            found.append(
                f"{path}: differs from line {number}: {here.strip()[:160]!r} here, "
                f"{there.strip()[:160]!r} restored"
            )
    for path, (status, content) in original.downloads.items():
        other_status, other_content = restored.downloads.get(path, (0, b""))
        if (status, content) != (other_status, other_content):
            found.append(
                f"{path}: {status}, {len(content)} bytes here; "
                f"{other_status}, {len(other_content)} bytes restored"
            )
    return found


def drill_case() -> int:
    """The case with the newest kept document, else with the newest delivery (a certificate),
    else the newest case: the one with the most to compare."""
    for statement in (
        "SELECT returnee_id FROM case_documents WHERE removed_at IS NULL ORDER BY id DESC",
        "SELECT p.returnee_id FROM deliveries d JOIN plan_lines l ON l.id = d.plan_line_id "
        "JOIN plans p ON p.id = l.plan_id ORDER BY d.id DESC",
        "SELECT id FROM returnees ORDER BY id DESC",
    ):
        case = db.session.execute(sa.text(f"{statement} LIMIT 1")).scalar()
        if case is not None:
            return int(case)
    raise BackupError("the database holds no case to drill with")


def drill_reader() -> str:
    """The first active administrator (who sees every case)."""
    email = db.session.scalars(
        sa.select(User.email)
        .where(User.role == Role.ADMIN, User.is_active.is_(True))
        .order_by(User.id)
        .limit(1)
    ).first()
    if email is None:
        raise BackupError("no active administrator to read the case as: give --as")
    return email


@contextmanager
def throwaway_database(scratch: Path, into: str | None = None) -> Iterator[str]:
    """A new empty database for the restore, dropped at the end: beside this one on the same
    PostgreSQL server (its user needs CREATEDB), or an SQLite file in ``scratch``. ``into``:
    an empty database given instead (left as the restore made it)."""
    url = _url()
    if into:
        yield into
        return
    if db.engine.dialect.name != "postgresql":
        yield f"sqlite:///{scratch / 'restored.sqlite3'}"
        return
    name = f"{url.database}_drill_{secrets.token_hex(4)}"
    server = db.engine.execution_options(isolation_level="AUTOCOMMIT")
    with server.connect() as connection:
        connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
    try:
        yield url.set(database=name).render_as_string(hide_password=False)
    finally:
        with server.connect() as connection:
            connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@dataclass(frozen=True)
class DrillResult:
    case_id: int
    reader: str
    manifest: dict[str, Any]
    pages: int
    downloads: int
    differences: list[str]


def run_drill(
    make_app: Callable[[Mapping[str, Any]], Flask],
    *,
    case_id: int | None = None,
    email: str | None = None,
    keep: Path | None = None,
    into: str | None = None,
) -> DrillResult:
    """Back up, restore into a new database and file store, and compare what the case serves
    in both. The restored copy is served by an app of its own, ``make_app`` (the factory)
    given this app's configuration with the new database and stores. ``keep``: where the
    backup goes (kept); by default a temporary directory. ``into``: an empty database to
    restore into instead of a new one (for a role without CREATEDB)."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    case_id = case_id or drill_case()
    email = email or drill_reader()
    original = render_case(app, case_id, email)
    with tempfile.TemporaryDirectory(prefix="hub-drill-") as scratch:
        directory = keep or Path(scratch) / "backup"
        manifest = create_backup(directory)
        with throwaway_database(Path(scratch), into) as url:
            config = {
                **app.config,
                "DATABASE_URL": url,
                "CERTIFICATE_DIR": str(Path(scratch) / "certificates"),
                "DOCUMENT_DIR": str(Path(scratch) / "documents"),
            }
            restored_app = make_app(config)
            if TESTING_KEY in app.extensions:  # the same key as this app's, kept by it
                restored_app.extensions[TESTING_KEY] = app.extensions[TESTING_KEY]
            with restored_app.app_context():
                try:
                    restore_backup(directory)
                    restored = render_case(restored_app, case_id, email)
                finally:
                    db.session.remove()
                    db.engine.dispose()
    return DrillResult(
        case_id=case_id,
        reader=email,
        manifest=manifest,
        pages=len(original.pages),
        downloads=len(original.downloads),
        differences=differences(original, restored),
    )
