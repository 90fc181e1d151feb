"""DuckDB plumbing shared by :mod:`jwtobs.analysis.load` (its JSONL reader) and :mod:`jwtobs.analysis.duck`
(the engine): the connection, SQL literals, the JSONL reader query and the mapping of DuckDB's errors on
bad input to one-line :class:`EventsError`. ``duckdb`` itself is imported only when used."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from jwtobs.events import EVENT_FIELDS

if TYPE_CHECKING:
    import duckdb

__all__ = ["DEFAULT_MEMORY_LIMIT", "EventsError", "NotEventsError", "clean_jsonl_query", "connect"]


class EventsError(ValueError):
    """The events could not be read: the message is one line naming the file and what is wrong with it."""


#: what a :class:`NotEventsError` says of the file
NOT_EVENTS: Final = "not a jwtobs events file"


class NotEventsError(EventsError):
    """A file whose content the JSON reader refuses as JSON event lines (``NOT_EVENTS``; a few lines cut mid-file
    are read without them by :func:`jwtobs.analysis.load._read_jsonl`)."""


#: DuckDB's memory limit unless told otherwise (it spills to a temporary directory beyond it)
DEFAULT_MEMORY_LIMIT: Final = "1GB"

_SQL_TYPES: Final[dict[str, str]] = {
    "schema": "SMALLINT",
    "time": "TIMESTAMPTZ",
    "iat": "BIGINT",
    "nbf": "BIGINT",
    "exp": "BIGINT",
    "token_bytes": "INTEGER",
    "duration_s": "DOUBLE",
}
_FIELDS: Final = EVENT_FIELDS


def _type(name: str) -> str:
    return _SQL_TYPES.get(name, "VARCHAR")


def _lit(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def sql_path(path: Path) -> bool:
    """Whether DuckDB can open ``path`` by name: its SQL takes UTF-8 text, and a file name that is not UTF-8 (bytes
    the file system kept, ``ev\\xff.jsonl``) cannot be written in it. The engines read such a file with Python's
    readers instead."""
    try:
        str(path).encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _list(paths: Sequence[Path]) -> str:
    return "[" + ", ".join(_lit(str(p)) for p in paths) + "]"


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]


def connect(memory_limit: str | None = DEFAULT_MEMORY_LIMIT, threads: int | None = None) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB connection set up for the engine: UTC, bounded memory (spilling to a temporary
    directory), no progress bar, no insertion-order preservation (lets big scans stream)."""
    try:
        import duckdb
    except ImportError:
        raise ImportError("the DuckDB engine needs duckdb: pip install 'jwtobs[analysis]'") from None
    con = duckdb.connect(":memory:")
    con.execute("SET TimeZone = 'UTC'")
    con.execute("SET enable_progress_bar = false")
    con.execute("SET preserve_insertion_order = false")
    if memory_limit:
        con.execute(f"SET memory_limit = {_lit(memory_limit)}")
        con.execute(f"SET temp_directory = {_lit(os.path.join(tempfile.gettempdir(), 'jwtobs-duckdb'))}")
    if threads:
        con.execute(f"SET threads = {int(threads)}")
    return con


def _json_columns() -> str:
    cols = {name: ("VARCHAR" if name == "time" else _type(name)) for name in _FIELDS}
    cols["event"] = "VARCHAR"
    return "{" + ", ".join(f"{_lit(k)}: {_lit(v)}" for k, v in cols.items()) + "}"


#: what an events file's ``time`` must be, said when DuckDB cannot read one as a time (docs/contract.md)
TIME_FORMAT: Final = "`time` must be an RFC 3339 string, e.g. 2026-11-28T17:53:20.123456Z"


def _file_error(exc: BaseException, files: Sequence[Path], what: str) -> EventsError:
    text = _first_line(exc)
    # (epoch seconds, a date without a time...: DuckDB's cast of `time`, upper-cased first: "timestamp field")
    if "source column time" in text or ("Conversion Error" in text and "timestamp" in text.lower()):
        text = f"{text}; {TIME_FORMAT}"
    # the file the error's own line names (the rest of DuckDB's message may quote the whole file list)
    named = next((f for f in files if str(f) in text), None) or next((f for f in files if str(f) in str(exc)), None)
    where = str(named) if named is not None else (str(files[0]) if len(files) == 1 else f"{len(files)} files")
    return (NotEventsError if what == NOT_EVENTS else EventsError)(f"{where}: {what} ({text})")


@contextmanager
def _errors(files: Sequence[Path]) -> Iterator[None]:
    """DuckDB's errors on bad input as one-line :class:`EventsError`s naming the file."""
    import duckdb

    try:
        yield
    except (duckdb.InvalidInputException, duckdb.IOException, duckdb.ConversionException) as exc:
        msg = str(exc)
        what = NOT_EVENTS
        if "parquet" in msg.lower() or "magic" in msg.lower():
            what = "unreadable Parquet file"
        elif "gzip" in msg.lower():
            what = "unreadable gzip file"
        raise _file_error(exc, files, what) from None


def _arrow(con: duckdb.DuckDBPyConnection, query: str) -> Any:
    """The result of ``query`` as an Arrow table (``to_arrow_table`` since DuckDB 1.4, ``arrow`` before)."""
    rel = con.sql(query)
    fetch = getattr(rel, "to_arrow_table", None) or rel.arrow
    return fetch()


def clean_jsonl_query(files: Sequence[Path]) -> str:
    """DuckDB's JSON reader over complete JSONL files: the validation events (key-set change lines left
    out), columns of :data:`jwtobs.events.EVENT_FIELDS`, ``time`` a UTC ``TIMESTAMPTZ``."""
    # the cast only for the rows kept: DuckDB casts before it filters, and a key-set change line whose time is
    # not a time (the pandas reader drops that change) made the whole file "not a jwtobs events file"
    time_col = "CASE WHEN event IS NULL THEN CAST(upper(time) AS TIMESTAMPTZ) END AS time"
    cols = ", ".join(time_col if n == "time" else n for n in _FIELDS)
    src = (
        f"read_json({_list(files)}, format = 'newline_delimited', columns = {_json_columns()}, "
        "ignore_errors = false, maximum_object_size = 16777216)"
    )
    return f"SELECT {cols} FROM {src} WHERE event IS NULL"
