"""Opening a run's SQLite file: WAL, busy timeout, schema version, and clear errors.

Only the daemon writes; readers (`status`, `watch`, `export`) open the file read-only and, with
WAL, never block it. Transactions that write start with BEGIN IMMEDIATE so they take the write
lock up front instead of failing on a lock upgrade.
"""
from __future__ import annotations

import os
import sqlite3
from contextlib import contextmanager
from importlib import resources
from pathlib import Path

from petri.errors import StoreError

SCHEMA_VERSION = 3
# Filesystems where SQLite's WAL shared memory and locks do not work.
NETWORK_FS = {"nfs", "nfs4", "cifs", "smb3", "smbfs", "lustre", "gpfs", "fuse.sshfs", "ceph",
              "fuse.glusterfs", "glusterfs", "9p", "afs", "beegfs", "fuse.s3fs"}
_V1_POINT_COLUMNS = ("id, key, job_id, desc, params, macs, activation_bytes, val_error, parent, "
                     "lineage, stage, budget, checkpoint, created")
# Migrations from version N to N+1, each a list of SQL statements.
MIGRATIONS: dict[int, list[str]] = {
    # 1 -> 2: points.val_error may be NULL (evaluation without a validation split) and points
    # get test_error. SQLite cannot relax NOT NULL in place, so the table is rebuilt.
    1: [
        """CREATE TABLE points_v2 (
    id               INTEGER PRIMARY KEY,
    key              TEXT    NOT NULL UNIQUE,
    job_id           INTEGER REFERENCES jobs (id),
    desc             TEXT,
    params           INTEGER,
    macs             INTEGER,
    activation_bytes INTEGER,
    val_error        REAL,
    test_error       REAL,
    parent           INTEGER REFERENCES points_v2 (id),
    lineage          TEXT,
    stage            TEXT,
    budget           REAL,
    checkpoint       TEXT,
    created          REAL    NOT NULL
)""",
        f"INSERT INTO points_v2 ({_V1_POINT_COLUMNS}) SELECT {_V1_POINT_COLUMNS} FROM points",
        "DROP TABLE points",
        "ALTER TABLE points_v2 RENAME TO points",
    ],
    # 2 -> 3: a point's latency, measured after it trains (runs with a `latency` section).
    2: ["ALTER TABLE points ADD COLUMN latency_ms REAL",
        "ALTER TABLE points ADD COLUMN latency TEXT"],
}


def filesystem_type(path: Path) -> str | None:
    """The type of the filesystem holding `path`, from /proc/mounts (None where unknown)."""
    try:
        mounts = Path("/proc/mounts").read_text().splitlines()
    except OSError:
        return None
    path = path.resolve()
    best, fstype = "", None
    for line in mounts:
        parts = line.split()
        if len(parts) < 3:
            continue
        mnt = parts[1].replace("\\040", " ")
        if (str(path) == mnt or str(path).startswith(mnt.rstrip("/") + "/")) and len(mnt) > len(best):
            best, fstype = mnt, parts[2]
    return fstype


def check_local_disk(run_dir: Path) -> None:
    fstype = filesystem_type(run_dir)
    if fstype in NETWORK_FS:
        raise StoreError(f"run dir {run_dir} is on a network filesystem ({fstype}); SQLite's WAL "
                         f"needs a local disk: use a run dir on local storage")


def _schema_sql() -> str:
    return resources.files("petri.store").joinpath("schema.sql").read_text()


def connect(path: str | Path, readonly: bool = False, create: bool = False) -> sqlite3.Connection:
    """Open the store file `path` (a run's `RunDir.db`). Writers get WAL and a checked schema.

    `create` is for a new run only (`petri start` on a new run dir): it may write the schema
    into a missing or empty file. Everywhere else a file without petri's schema is refused, so
    a zero-byte or foreign DB is never silently turned into a fresh run.
    """
    path = Path(path)
    run_dir = path.parent
    if not path.exists():
        if not create:
            raise StoreError(_no_run(path))
        run_dir.mkdir(parents=True, exist_ok=True)
    if not readonly:
        check_local_disk(run_dir)
    try:
        if readonly:
            # On read-only media nobody can change the file, and SQLite cannot create the WAL
            # index a reader needs: open it immutable there.
            flags = "mode=ro" if os.access(run_dir, os.W_OK) else "mode=ro&immutable=1"
            conn = sqlite3.connect(f"file:{path}?{flags}", uri=True, isolation_level=None,
                                   timeout=10.0, check_same_thread=False)
        else:
            conn = sqlite3.connect(path, isolation_level=None, timeout=30.0)
        conn.row_factory = sqlite3.Row
        conn.execute("PRAGMA busy_timeout = 10000")
        version = conn.execute("PRAGMA user_version").fetchone()[0]
    except sqlite3.DatabaseError as e:
        raise StoreError(f"{path} is not a readable petri database ({e}); it was left untouched: "
                         f"restore it from a backup or start a new run dir") from None
    # Checked before any PRAGMA that writes, so a refused file keeps every byte it had.
    if version > SCHEMA_VERSION:
        conn.close()
        raise StoreError(f"{path} was written by a newer petri (schema {version}, this petri "
                         f"reads {SCHEMA_VERSION}); upgrade petri to open it")
    if version == 0 and not create:
        foreign = _has_tables(conn)
        conn.close()
        if foreign:
            raise StoreError(f"{path} is an SQLite file that petri did not create; it was left "
                             f"untouched: choose another run dir")
        raise StoreError(f"{path} holds no petri schema ({path.stat().st_size} bytes); it was "
                         f"left untouched: restore it (and petri.db-wal) from a backup, or start "
                         f"a new run dir")
    if not readonly:
        try:
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = NORMAL")
            conn.execute("PRAGMA foreign_keys = ON")
        except sqlite3.DatabaseError as e:
            conn.close()
            raise StoreError(f"{path} cannot be opened for writing ({e}); it was left "
                             f"untouched: check the run dir's permissions and free space") from None
        _ensure_schema(conn, path, version)
    return conn


def _no_run(path: Path) -> str:
    """Why the missing store `path` cannot be opened: a parent folder of runs names them, not
    a new run."""
    run_dir = path.parent
    inside = sorted(str(p.parent) for p in run_dir.glob(f"*/{path.name}"))
    if inside:
        shown = ", ".join(inside[:3]) + (f" and {len(inside) - 3} more" if len(inside) > 3 else "")
        return (f"{run_dir} is not a run but holds runs: pass one of them ({shown}); "
                f"`petri ls {run_dir}` lists them")
    return (f"no petri run in {run_dir} ({path.name} is missing); start one with "
            f"`petri start CONFIG --run-dir {run_dir}`")


def connect_memory() -> sqlite3.Connection:
    """An in-memory store with petri's schema (tests, planning without a run dir)."""
    conn = sqlite3.connect(":memory:", isolation_level=None)
    conn.row_factory = sqlite3.Row
    conn.execute("PRAGMA foreign_keys = ON")
    _ensure_schema(conn, Path(":memory:"), 0)
    return conn


def _ensure_schema(conn: sqlite3.Connection, path: Path, version: int) -> None:
    try:
        if version == 0:
            if _has_tables(conn):
                raise StoreError(f"{path} is an SQLite file that petri did not create; it was "
                                 f"left untouched: choose another run dir")
            with transaction(conn):
                _exec_script(conn, _schema_sql())
                conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
            return
        check = conn.execute("PRAGMA quick_check").fetchone()[0]
        if check != "ok":
            raise StoreError(f"{path} is corrupt ({check}); it was left untouched: restore it "
                             f"from a backup (the checkpoints in jobs/ are intact)")
        while version < SCHEMA_VERSION:
            with transaction(conn):
                for stmt in MIGRATIONS[version]:
                    conn.execute(stmt)
                version += 1
                conn.execute(f"PRAGMA user_version = {version}")
    except sqlite3.DatabaseError as e:
        raise StoreError(f"{path} is corrupt ({e}); it was left untouched: restore it from a "
                         f"backup or start a new run dir") from None


def _has_tables(conn: sqlite3.Connection) -> bool:
    return conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0] > 0


def _exec_script(conn: sqlite3.Connection, script: str) -> None:
    # executescript would COMMIT the surrounding transaction; run statement by statement instead.
    for stmt in script.split(";"):
        if stmt.strip() and not all(line.strip().startswith("--") or not line.strip()
                                    for line in stmt.splitlines()):
            conn.execute(stmt)


def _where(conn: sqlite3.Connection) -> str:
    row = conn.execute("PRAGMA database_list").fetchone()
    return row[2] if row else "the run database"


def _store_error(conn: sqlite3.Connection, e: sqlite3.DatabaseError) -> StoreError:
    path = _where(conn)
    if "full" in str(e):
        return StoreError(f"the disk holding {path} is full; nothing committed was lost: free "
                          f"space there, then `petri resume {Path(path).parent}`")
    return StoreError(f"writing {path} failed ({e}); nothing committed was lost")


def _rollback(conn: sqlite3.Connection) -> None:
    # SQLite rolls back by itself after some errors (a full disk); a second ROLLBACK would
    # raise "cannot rollback - no transaction is active" over the real error.
    if conn.in_transaction:
        conn.execute("ROLLBACK")


@contextmanager
def transaction(conn: sqlite3.Connection):
    """BEGIN IMMEDIATE ... COMMIT, rolled back on any error; sqlite errors become StoreError."""
    try:
        conn.execute("BEGIN IMMEDIATE")
    except sqlite3.OperationalError as e:
        raise StoreError(f"cannot lock the run database: {e}") from None
    try:
        yield conn
    except sqlite3.DatabaseError as e:
        _rollback(conn)
        raise _store_error(conn, e) from None
    except BaseException:
        _rollback(conn)
        raise
    else:
        try:
            conn.execute("COMMIT")
        except sqlite3.DatabaseError as e:
            _rollback(conn)
            raise _store_error(conn, e) from None
