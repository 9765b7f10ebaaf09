"""One database: the engine, its transactions, and every database error translated.

SQLAlchemy Core keeps the SQL portable: a SQLite file by default, a PostgreSQL URL
without a rewrite. Every connection the stores use comes from `transaction` or
`reading`, which turn any SQLAlchemy error into one `StoreError` naming the database
and what was being done, so no other module needs to know SQLAlchemy's exceptions.
"""

from __future__ import annotations

import operator
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Table, create_engine, event, func, insert, inspect, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, SQLAlchemyError

from digest.errors import ForeignDatabaseError, StoreError
from digest.state.migrations import migrate
from digest.state.schema import SCHEMA_VERSION, meta, metadata

_READ_ONLY = "digest_read_only"
# Held while the schema is created or checked, so that senders starting together on a new
# PostgreSQL database do not race to create the same tables (SQLite's write lock does it).
_SCHEMA_LOCK = 0x6469676573  # "diges"


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # Autocommit at the driver level so that SQLAlchemy's BEGIN below is the only one.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def _sqlite_begin(connection: Connection) -> None:
    # Writers take the write lock up front, so two wait for each other instead of
    # deadlocking; readers never wait for a writer (WAL lets them read alongside).
    if connection.get_execution_options().get(_READ_ONLY):
        connection.exec_driver_sql("BEGIN")
    else:
        connection.exec_driver_sql("BEGIN IMMEDIATE")


class Database:
    """An open database with the current schema. One instance per process; cheap to open.

    With `create=False`, a SQLite file that does not exist is not made: an empty database
    in memory stands in for it (messages still name the file), so that a command that
    only looks (`rank`, `status`, ...) finds nothing and leaves nothing behind.
    """

    def __init__(self, url: str, *, create: bool = True) -> None:
        self.url = _without_password(url)  # what messages show
        if not create and missing_file(url):
            url = "sqlite://"
        try:
            self._engine: Engine = create_engine(url, pool_pre_ping=_is_server(url))
            if self.dialect == "sqlite":
                event.listen(self._engine, "connect", _sqlite_pragmas)
                event.listen(self._engine, "begin", _sqlite_begin)
            self._insert = self._insert_for(self.dialect)
            with self._engine.begin() as conn:
                if self.dialect == "postgresql":
                    conn.execute(select(func.pg_advisory_xact_lock(_SCHEMA_LOCK)))
                # A newer program's database is refused before anything is written to it.
                found = self._schema_version(conn)
                metadata.create_all(conn)
                _add_new_indexes(conn)
                migrate(conn, found)
        except (SQLAlchemyError, ArgumentError, ImportError) as error:
            raise StoreError(f"{self.url}: cannot open the database ({_reason(error)})") from None

    @property
    def dialect(self) -> str:
        return self._engine.dialect.name

    def close(self) -> None:
        self._engine.dispose()

    @contextmanager
    def transaction(self, doing: str) -> Iterator[Connection]:
        """A connection in one transaction, committed when the block ends, rolled back on
        error. `doing` ("save papers") names the work in the error of a failure."""
        try:
            with self._engine.begin() as conn:
                yield conn
        except SQLAlchemyError as error:
            raise StoreError(f"{self.url}: cannot {doing} ({_reason(error)})") from None

    @contextmanager
    def reading(self, doing: str) -> Iterator[Connection]:
        """A connection for reads only: on SQLite it never takes the write lock."""
        try:
            with self._engine.connect().execution_options(**{_READ_ONLY: True}) as conn:
                yield conn
        except SQLAlchemyError as error:
            raise StoreError(f"{self.url}: cannot {doing} ({_reason(error)})") from None

    def insert(self, table: Table) -> Any:
        """An INSERT for `table` with this database's upsert clauses (ON CONFLICT ...)."""
        return self._insert(table)

    def insert_new(self, conn: Connection, table: Table, rows: list[dict[str, Any]]) -> None:
        """Rows whose keys no stored row holds: by COPY on PostgreSQL, where a statement per
        row (even pipelined) cost more than the rest of the batch; else `execute_many`."""
        if self.dialect == "postgresql":
            _copy(conn, table, rows)
        else:
            execute_many(conn, insert(table), rows)

    def _insert_for(self, dialect: str) -> Any:
        if dialect == "postgresql":
            return postgresql.insert
        if dialect == "sqlite":
            return sqlite.insert
        raise StoreError(f"{self.url}: unsupported database {dialect!r} (use sqlite or postgresql)")

    def _schema_version(self, conn: Connection) -> int | None:
        """The schema version the database holds (None for a new one); a database of
        another program or of a newer paper-digest is refused."""
        if not inspect(conn).has_table(meta.name):
            return None
        found = conn.scalar(select(meta.c.value).where(meta.c.key == "schema_version"))
        if found is None:
            return None
        if not str(found).isdigit():
            raise ForeignDatabaseError(
                f"{self.url}: schema version {found!r} is not a number: "
                "not a paper-digest database?"
            )
        if int(found) > SCHEMA_VERSION:
            raise ForeignDatabaseError(
                f"{self.url}: database schema {found} is newer than this program's "
                f"({SCHEMA_VERSION})",
                hint="upgrade paper-digest",
            )
        return int(found)


# Values bound in one IN (...) list: far under SQLite's 32,766 and PostgreSQL's 65,535.
IN_CHUNK = 500


def chunks(items: Sequence[Any], size: int = IN_CHUNK) -> Iterator[Sequence[Any]]:
    """`items` in slices of at most `size`, one per statement of an IN (...) lookup."""
    for start in range(0, len(items), size):
        yield items[start : start + size]


def execute_many(conn: Connection, statement: Any, rows: Sequence[dict[str, Any]]) -> None:
    """Run `statement` once per row, handing the rows to the driver as they are.

    The statement is compiled once for the rows' keys; SQLAlchemy's per-row parameter
    processing, the larger part of a bulk write's cost, is skipped. Only safe because
    every stored value is a type each driver takes as is (see `schema.timestamp`).
    """
    if not rows:
        return
    compiled = statement.compile(dialect=conn.dialect, column_keys=list(rows[0]))
    if compiled.positional:
        values = operator.itemgetter(*compiled.positiontup)
        conn.exec_driver_sql(compiled.string, [values(row) for row in rows])
    else:
        conn.exec_driver_sql(compiled.string, list(rows))


def _add_new_indexes(conn: Connection) -> None:
    # create_all makes the tables that are missing, with their indexes, and leaves the
    # tables that exist alone: an index added to one since is made here.
    for table in metadata.sorted_tables:
        for index in table.indexes:
            index.create(conn, checkfirst=True)


def _copy(conn: Connection, table: Table, rows: list[dict[str, Any]]) -> None:
    """`rows` into `table` by PostgreSQL's COPY, a driver's error raised as SQLAlchemy's
    (so that `Database.transaction` names it like any other)."""
    if not rows:
        return
    columns = list(rows[0])
    statement = f"COPY {table.name} ({', '.join(columns)}) FROM STDIN"
    driver_error = conn.dialect.loaded_dbapi.Error
    cursor: Any = conn.connection.cursor()
    try:
        with cursor.copy(statement) as copy:
            for row in rows:
                copy.write_row([row[column] for column in columns])
    except driver_error as error:
        raise DBAPIError.instance(statement, None, error, driver_error) from None
    finally:
        cursor.close()


def _reason(error: Exception) -> str:
    original = getattr(error, "orig", None)
    return str(original or error).splitlines()[0]


def _without_password(url: str) -> str:
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return url


def missing_file(url: str) -> bool:
    """Whether `url` names a SQLite file that does not exist (yet)."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        return False
    name = parsed.database
    # A URI filename ("file:...?uri=true") is SQLite's to read: not checked here.
    if parsed.get_backend_name() != "sqlite" or not name or name == ":memory:":
        return False
    if parsed.query.get("uri"):
        return False
    return parsed.query.get("mode") != "memory" and not Path(name).exists()


def _is_server(url: str) -> bool:
    # A server may drop idle connections (a restart, a proxy's timeout); a file cannot.
    return not url.startswith("sqlite")
