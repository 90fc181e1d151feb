"""``load_events``: JSONL, Parquet and partitioned directories into a dtype-correct pandas DataFrame.

Everything is parsed and normalised in Arrow (JSONL by DuckDB's JSON reader when the ``analysis`` extra is
installed, else ``pyarrow.json``, both with an explicit schema; Parquet by ``pyarrow.parquet``) and converted
to pandas once: high-cardinality strings stay Arrow-backed (no Python objects), low-cardinality
ones become categoricals. 1 M events (540 MB of JSONL) take about 3 CPU-seconds at a peak RSS of 1.4-1.6x the
file (``benchmarks/bench_scale.py load``, docs/analysis.md); the former line-by-line ``json.loads`` path took
13-15 s at 8.5x.

Bad input is a :class:`EventsError` naming the file: a line that is not a JSON object in the middle of a
file, a value of the wrong type, a truncated Parquet file, a schema version this jwtobs does not read. The
one thing tolerated is an unterminated last line (a file still being written).
"""

from __future__ import annotations

import gzip
import json
import logging
import os
import re
import threading
import zlib
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, Final, get_args

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pj
import pyarrow.parquet as pq

from jwtobs._compressed import compression, decompress_hint
from jwtobs.analysis._duckio import NOT_EVENTS, EventsError, NotEventsError, sql_path
from jwtobs.analysis.aggregate import distinct_events
from jwtobs.events import EVENT_FIELDS, SCHEMA_VERSION, Outcome
from jwtobs.pipeline import NUMERIC_DATE_LIMIT

__all__ = [
    "load_events",
    "load_keyset_changes",
    "event_files",
    "jsonl_files",
    "is_event_file",
    "EventsError",
    "EVENT_DTYPES",
    "ARROW_SCHEMA",
]

#: schema versions this jwtobs reads (an event without ``schema`` is version 1)
READABLE_SCHEMAS: Final = frozenset({1, SCHEMA_VERSION})
#: suffixes of event files in a directory
EVENT_SUFFIXES: Final = (".jsonl", ".parquet", ".json")
#: JSONL files as log rotation leaves them: ``events.jsonl.1``, ``events.jsonl.2.gz``, ``events.jsonl-20261203.gz``
#: (logrotate, with ``compress`` and ``dateext``), ``events.jsonl.gz``
_ROTATED_JSONL: Final = re.compile(r".+\.jsonl(?:[.-][0-9][0-9-]{0,15})?(?:\.gz)?")

_CATEGORIES: Final = ("outcome", "reason", "detail", "library", "profile", "issuer", "alg", "typ", "service")
_STRINGS: Final = ("kid", "client_id", "token_fp", "jti_hash", "sub_hash", "tenant", "trace_id", "span_id")
EVENT_DTYPES: Final[dict[str, str]] = {
    "schema": "int16",
    **{k: "category" for k in _CATEGORIES},
    **{k: "string[pyarrow]" for k in _STRINGS},
    "iat": "Int64",
    "nbf": "Int64",
    "exp": "Int64",
    "token_bytes": "int32",
    "duration_s": "float64",
}
_ARROW_TYPES: Final[dict[str, pa.DataType]] = {
    "schema": pa.int16(),
    "time": pa.timestamp("ns", tz="UTC"),
    **{k: pa.string() for k in (*_CATEGORIES, *_STRINGS)},
    "iat": pa.int64(),
    "nbf": pa.int64(),
    "exp": pa.int64(),
    "token_bytes": pa.int32(),
    "duration_s": pa.float64(),
}
#: the normalised event table (column order of :data:`jwtobs.events.EVENT_FIELDS`)
ARROW_SCHEMA: Final = pa.schema([pa.field(name, _ARROW_TYPES[name]) for name in EVENT_FIELDS])
#: what the JSON reader is told: ``time`` as text (parsed below), ``event`` marks key-set change lines
_JSON_SCHEMA: Final = pa.schema(
    [pa.field(f.name, pa.string() if f.name == "time" else f.type) for f in ARROW_SCHEMA]
    + [pa.field("event", pa.string())]
)
_JSON_PARSE: Final = pj.ParseOptions(explicit_schema=_JSON_SCHEMA, unexpected_field_behavior="ignore")
_JSON_READ: Final = pj.ReadOptions(block_size=16 << 20)


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]


def is_event_file(p: Path) -> bool:
    """Whether a directory's file ``p`` is read as events: ``*.jsonl``, ``*.json`` (not ``labels.json``),
    ``*.parquet``, or a rotated or gzip-compressed JSONL file (:data:`_ROTATED_JSONL`); not hidden (``.x``,
    ``_x``)."""
    name = p.name
    if name.startswith((".", "_")) or name == "labels.json":
        return False
    return p.suffix in EVENT_SUFFIXES or _ROTATED_JSONL.fullmatch(name) is not None


def _files_below(root: Path) -> list[Path]:
    """Every file below ``root`` (sorted) outside hidden directories (``.git/``, ``.ipynb_checkpoints/``: copies;
    Spark's ``_temporary/``: partial output). A directory that cannot be read is an :class:`EventsError` naming
    it: its events would be missing from the analysis without a word."""

    def refuse(exc: OSError) -> None:
        raise EventsError(f"{exc.filename or root}: cannot read this directory ({_first_line(exc)})")

    found: list[Path] = []
    seen: set[tuple[int, int]] = set()  # directories by (device, inode): a symlink back up is walked once
    for folder, dirs, files in os.walk(root, onerror=refuse, followlinks=True):
        st = os.stat(folder)
        if (st.st_dev, st.st_ino) in seen:
            dirs[:] = []
            continue
        seen.add((st.st_dev, st.st_ino))
        dirs[:] = sorted(d for d in dirs if not d.startswith((".", "_")))
        found += (Path(folder) / f for f in files)
    return sorted(found)


def _gz(path: Path) -> bool:
    return path.suffix == ".gz"


def _readable(files: list[Path]) -> list[Path]:
    """``files``, each checked to be what its name says: a compressed file that the engines would parse as JSON
    ("not a jwtobs events file (JSON parse error: Invalid value. in row 0)", session 21: an ``events.jsonl.xz``,
    a gzip file without ``.gz``) is an :class:`EventsError` naming its format and what to do."""
    for f in files:
        if f.suffix == ".parquet" or not f.is_file():  # (not a FIFO: opening it would wait for a writer)
            continue
        try:
            with open(f, "rb") as fh:
                fmt = compression(fh.read(16))
        except OSError:
            continue  # (the reader reports it)
        if fmt == "gzip" and _gz(f):
            continue
        if fmt == "gzip":
            raise EventsError(f"{f}: gzip-compressed file without a .gz name (rename it to end in .gz)")
        if fmt is not None:
            raise EventsError(
                f"{f}: {fmt}-compressed file: jwtobs reads JSONL, gzip-compressed JSONL (.gz) and Parquet "
                f"(decompress it first: {decompress_hint(fmt)})"
            )
    return files


def jsonl_files(path: str | Path) -> list[Path]:
    """The JSONL files of ``path`` (itself, or a directory's ``*.jsonl`` files, rotated and compressed ones too,
    recursively): where key-set changes are (a Parquet copy holds only the validations)."""
    p = Path(path)
    if not p.is_dir():
        return [f for f in event_files(p) if f.suffix != ".parquet"]
    return _readable(
        [f for f in _files_below(p) if is_event_file(f) and _ROTATED_JSONL.fullmatch(f.name) and f.is_file()]
    )


def event_files(path: str | Path) -> list[Path]:
    """The event files of ``path``: itself, or the event files of a directory (:func:`is_event_file`,
    recursively, so Hive-style ``date=.../hour=...`` partitions work). A directory holding ``x.jsonl`` and
    ``x.parquet`` (the simulator's output) yields the Parquet copy only, unless the JSONL file was written after it (a
    stale copy: events appended since, or another run's file): then the JSONL file, and a warning naming both (before
    session 33 the Parquet copy was read whatever its age, and the newer events were dropped without a word)."""
    path = Path(path)
    if path.is_dir():
        found = [p for p in _files_below(path) if is_event_file(p) and p.is_file()]
        copies = {p.with_suffix(""): p for p in found if p.suffix == ".parquet"}
        stale: set[Path] = set()
        for p in found:
            copy = copies.get(p.with_suffix("")) if p.suffix in (".jsonl", ".json") else None
            if copy is not None and _newer(p, copy):
                stale.add(copy)
                if copy not in _WARNED_STALE and len(_WARNED_STALE) < 1024:  # (once per file: the engines ask twice)
                    _WARNED_STALE.add(copy)
                    _log.warning("%s: older than %s, which is read instead (a stale Parquet copy)", copy, p.name)
        fresh = {stem for stem, copy in copies.items() if copy not in stale}
        return _readable(
            [
                p
                for p in found
                if p not in stale and not (p.suffix in (".jsonl", ".json") and p.with_suffix("") in fresh)
            ]
        )
    if not path.exists():
        raise FileNotFoundError(path)
    if not path.is_file():  # a FIFO (`<(zcat ...)`, a named pipe), a socket, a device: read once, no size, no seek
        raise EventsError(
            f"{path}: not a regular file (a pipe or a device): jwtobs reads events files and directories "
            "(write the stream to a file first)"
        )
    return _readable([path])


#: stale Parquet copies warned about in this process
_WARNED_STALE: set[Path] = set()


def _newer(jsonl: Path, copy: Path) -> bool:
    """Whether ``jsonl`` was modified after its Parquet ``copy`` was written (1 s of slack for coarse clocks)."""
    try:
        return jsonl.stat().st_mtime > copy.stat().st_mtime + 1.0
    except OSError:
        return False


# -- JSONL -------------------------------------------------------------------------------------------------
def _complete_length(path: Path) -> int:
    """Bytes of ``path`` up to its last complete line: an unterminated last line is kept when it is a JSON
    object, dropped when it is torn (a writer caught mid-line)."""
    size = path.stat().st_size
    if size == 0 or _gz(path):  # a compressed file is a closed one (rotated): read whole, its errors reported
        return size
    with open(path, "rb") as f:
        back = min(size, 1 << 20)
        f.seek(size - back)
        tail = f.read(back)
    if tail.endswith(b"\n"):
        return size
    cut = tail.rfind(b"\n")
    last = tail[cut + 1 :]
    try:
        if isinstance(json.loads(last), dict):
            return size
    except ValueError:
        pass
    return size - len(last)


def _duckdb() -> bool:
    """Whether DuckDB (the ``analysis`` extra) is there to parse JSONL: half the CPU of ``pyarrow.json``."""
    try:
        import duckdb  # noqa: F401
    except ImportError:
        return False
    return True


#: parse complete JSONL files with DuckDB when it is installed (tests switch it off to cover pyarrow.json)
USE_DUCKDB = True


def _read_jsonl_duckdb(paths: list[Path]) -> pa.Table:
    """The complete JSONL files ``paths`` parsed by one DuckDB query (errors: one line naming the file)."""
    from jwtobs.analysis import _duckio

    with _duckio._errors(paths):
        return _duckio._arrow(_reader(), _duckio.clean_jsonl_query(paths))


#: the DuckDB connection that reads JSONL files, one per thread and process (a connection is not shared by threads,
#: nor kept across a fork). Before session 33 every file opened one (~30 ms): a directory of 10 000 one-event files
#: (one file per process and hour) took over 300 s with the pandas engine
_READERS = threading.local()


def _reader() -> Any:
    con = getattr(_READERS, "con", None)
    if con is None or getattr(_READERS, "pid", None) != os.getpid():
        from jwtobs.analysis import _duckio

        con = _READERS.con = _duckio.connect()
        _READERS.pid = os.getpid()
    return con


#: a JSONL file whose lines are JSON objects but for at most this share is read without those lines, each
#: counted in one warning naming the file: a line cut short by a writer killed mid-line (or a full disk), with
#: the next process appending after it; more, and the file is no events file
TORN_SHARE: Final = 0.01

_log = logging.getLogger("jwtobs.analysis")

_loads: Callable[[bytes], Any]
try:
    from orjson import loads as _loads
except ImportError:  # pragma: no cover - orjson is a core dependency on CPython
    _loads = json.loads


def _salvage(path: Path, n: int) -> bytes | None:
    """The first ``n`` bytes of ``path`` without the lines that are not JSON objects, when there are some and at
    most :data:`TORN_SHARE` of the lines (logged once); ``None`` otherwise (the caller's error stands)."""
    try:
        if _gz(path):
            with gzip.open(path, "rb") as f:
                data = f.read()
        else:
            with open(path, "rb") as f:
                data = f.read(n)
    except (OSError, EOFError, zlib.error):
        return None
    lines = data.split(b"\n")
    good: list[bytes] = []
    bad = 0
    for line in lines:
        if not line.strip():
            continue
        try:
            ok = isinstance(_loads(line), dict)
        except ValueError:
            ok = False
        if ok:
            good.append(line)
        else:
            bad += 1
    if not bad or not good or bad > TORN_SHARE * (bad + len(good)):
        return None
    _log.warning(
        "jwtobs: %s: %d of %d lines are not JSON objects (cut short by a writer that stopped mid-line?): read "
        "without them",
        path,
        bad,
        bad + len(good),
    )
    return b"\n".join(good) + b"\n"


def _read_json_arrow(path: Path, n: int, lines: bytes | None = None) -> pa.Table:
    """``pyarrow.json`` over the first ``n`` bytes of ``path`` (its complete lines), or over ``lines`` when given."""
    try:
        if lines is None and not sql_path(path):  # (pyarrow takes a file name as UTF-8 text too: read it here)
            with gzip.open(path, "rb") if _gz(path) else open(path, "rb") as f:
                lines = f.read() if _gz(path) else f.read(n)
        if lines is not None:
            return pj.read_json(pa.BufferReader(lines), _JSON_READ, _JSON_PARSE)
        if n == path.stat().st_size:
            return pj.read_json(str(path), read_options=_JSON_READ, parse_options=_JSON_PARSE)
        with pa.memory_map(str(path)) as mm:  # only the complete lines (a zero-copy slice of the mapped file)
            return pj.read_json(pa.BufferReader(mm.read_buffer(n)), _JSON_READ, _JSON_PARSE)
    except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
        raise NotEventsError(f"{path}: {NOT_EVENTS} ({_first_line(exc)})") from None
    except OSError as exc:
        if not _gz(path):
            raise
        raise EventsError(f"{path}: unreadable gzip file ({_first_line(exc)})") from None


def _read_jsonl(path: Path) -> pa.Table:
    n = _complete_length(path)
    if n == 0:
        return ARROW_SCHEMA.empty_table()
    try:
        if USE_DUCKDB and n == path.stat().st_size and sql_path(path) and _duckdb():
            return _read_jsonl_duckdb([path])
        table = _read_json_arrow(path, n)
    except NotEventsError:
        good = _salvage(path, n)
        if good is None:
            raise
        table = _read_json_arrow(path, n, good)
    event = table.column("event")
    table = table.drop_columns(["event"])
    if event.null_count != len(event):  # key-set change lines are in the file: keep only the validations
        table = _columnwise(table, lambda col: pc.filter(col, pc.is_null(event)))
    try:
        times = pc.strptime(table.column("time"), format="%Y-%m-%dT%H:%M:%S%z", unit="ns", error_is_null=False)
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        times = _parse_times(table.column("time"), path)
    return table.set_column(table.schema.get_field_index("time"), "time", times)


def _parse_times(column: pa.ChunkedArray, path: Path) -> pa.Array:
    """RFC 3339 times with fractions (what the sink writes; RFC 3339 allows a lower-case ``t`` and ``z``) or any
    ISO 8601 form pandas reads."""
    try:
        parsed = pd.to_datetime(column.to_pandas().str.upper(), utc=True, format="ISO8601")
    except (ValueError, TypeError) as exc:
        raise EventsError(f"{path}: bad event time ({_first_line(exc)})") from None
    return pa.array(parsed, type=_ARROW_TYPES["time"])


# -- Parquet -----------------------------------------------------------------------------------------------
def _read_parquet(path: Path) -> pa.Table:
    try:
        if sql_path(path):
            table = pq.read_table(path)
        else:  # (pyarrow takes a file name as UTF-8 text: a name of other bytes is opened here)
            with open(path, "rb") as f:
                table = pq.read_table(f)
    except (pa.ArrowException, OSError) as exc:
        raise EventsError(f"{path}: unreadable Parquet file ({_first_line(exc)})") from None
    if "event" in table.column_names:
        table = table.filter(pc.is_null(table.column("event")))
    return _conform(table, path)


def _conform(table: pa.Table, path: Path) -> pa.Table:
    """``table`` with exactly :data:`ARROW_SCHEMA` (missing columns null, extra columns dropped)."""
    columns: list[pa.ChunkedArray | pa.Array] = []
    for field in ARROW_SCHEMA:
        if field.name not in table.column_names:
            columns.append(pa.nulls(table.num_rows, field.type))
            continue
        col = table.column(field.name)
        if pa.types.is_dictionary(col.type):
            col = col.cast(col.type.value_type)
        if field.name == "time" and (pa.types.is_string(col.type) or pa.types.is_large_string(col.type)):
            columns.append(_parse_times(col, path))
            continue
        try:
            columns.append(col.cast(field.type))
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError) as exc:
            raise EventsError(
                f"{path}: column {field.name!r} is {col.type}, not {field.type} ({_first_line(exc)})"
            ) from None
    return pa.Table.from_arrays(columns, schema=ARROW_SCHEMA)


def _check_schema(table: pa.Table, path: Path) -> pa.Table:
    versions = pc.unique(table.column("schema").drop_null()).to_pylist()
    unknown = sorted(v for v in versions if v not in READABLE_SCHEMAS)
    if unknown:
        raise EventsError(
            f"{path}: event schema version {', '.join(map(str, unknown))}; this jwtobs reads "
            f"{', '.join(map(str, sorted(READABLE_SCHEMAS)))} (upgrade jwtobs to read these events)"
        )
    return table.set_column(0, "schema", pc.fill_null(table.column("schema"), pa.scalar(1, pa.int16())))


#: the longest span of event times analysed at once (the detectors' per-minute arrays cover it whole)
MAX_SPAN_DAYS: Final = 400


def check_times(where: object, missing: int) -> None:
    """:class:`EventsError` naming ``where`` when ``missing`` events have no time (an event is placed by it)."""
    if missing:
        raise EventsError(f"{where}: {missing} event{'s' if missing > 1 else ''} without a time")


#: the outcomes an event has (:data:`jwtobs.events.Outcome`)
OUTCOMES: Final = frozenset(get_args(Outcome))


def check_outcomes(where: object, values: Iterable[Any]) -> None:
    """:class:`EventsError` naming ``where`` when ``values`` (the distinct outcomes of its events) hold anything but
    ``accepted``/``rejected``: an event of another outcome - ``"REJECTED"``, ``"denied"``, none - would be counted as
    neither, its failures silently missing from every table and detector."""
    bad = sorted({"<none>" if v is None else str(v) for v in values} - OUTCOMES)
    if bad:
        shown = ", ".join(repr(v[:40]) if v != "<none>" else v for v in bad[:3]) + (", ..." if len(bad) > 3 else "")
        raise EventsError(
            f"{where}: events with outcome {shown}: a jwtobs event's outcome is 'accepted' or 'rejected' "
            "(lower case; not written by jwtobs, or changed since?)"
        )


def check_span(first: Any, last: Any) -> None:
    """:class:`EventsError` when the events span more than :data:`MAX_SPAN_DAYS` (``first``/``last``: datetimes or
    pandas Timestamps): one event stamped by a wrong clock (1990, 2200) made the analysis allocate gigabytes."""
    if first is None or last is None:
        return
    days = (last - first).total_seconds() / 86400
    if days > MAX_SPAN_DAYS:
        raise EventsError(
            f"the events span {first:%Y-%m-%d %H:%M} to {last:%Y-%m-%d %H:%M} UTC ({days:,.0f} days): more than the "
            f"{MAX_SPAN_DAYS} days analysed at once (an event stamped by a wrong clock, or files of different "
            "periods: split them by date)"
        )


#: more complete JSONL files than this are parsed by one DuckDB query (each file's own query costs ~3 ms: a directory
#: of 10 000 small files - replicas x hourly files x days - took 35 s of CPU for 33 k events, session 34)
BATCH_FILES: Final = 16


def _checked(f: Path, t: pa.Table) -> pa.Table:
    check_times(f, t.column("time").null_count)
    check_outcomes(f, pc.unique(t.column("outcome")).to_pylist())
    return _check_schema(t, f)


def _batch(files: list[Path]) -> pa.Table | None:
    """The events of the complete JSONL ``files`` parsed by one DuckDB query, checked; ``None`` when DuckDB is not
    there or any of them is refused or fails a check: then each file is read on its own, which salvages a file
    with a few torn lines and names the file of an error exactly."""
    if not (USE_DUCKDB and _duckdb()):
        return None
    con = _reader()
    try:
        # (in the files' order, each file's lines in order: the rows each file's own query gives, one after another)
        con.execute("SET preserve_insertion_order = true")
        table = _conform(_read_jsonl_duckdb(files), files[0])
        return _checked(files[0], table) if table.num_rows else table
    except EventsError:
        return None
    finally:
        con.execute("SET preserve_insertion_order = false")


def read_table(files: Iterable[Path]) -> pa.Table:
    """The validation events of ``files`` as one Arrow table of :data:`ARROW_SCHEMA`, sorted by time."""
    files = list(files)
    tables = []
    clean = [
        f
        for f in files
        if f.suffix != ".parquet" and sql_path(f) and f.stat().st_size and _complete_length(f) == f.stat().st_size
    ]
    batched = _batch(clean) if len(clean) > BATCH_FILES else None
    if batched is not None:
        tables.append(batched)
        files = [f for f in files if f not in set(clean)]
    for f in files:
        t = _read_parquet(f) if f.suffix == ".parquet" else _conform(_read_jsonl(f), f)
        if t.num_rows:
            tables.append(_checked(f, t))
    if not tables:
        return ARROW_SCHEMA.empty_table()
    table = pa.concat_tables(tables)
    times = table.column("time")
    check_span(pc.min(times).as_py(), pc.max(times).as_py())
    if len(times) > 1 and not pc.all(pc.less_equal(times[:-1], times[1:])).as_py():
        order = pc.sort_indices(times)
        table = _columnwise(table, lambda col: pc.take(col, order))
    return table


def _columnwise(table: pa.Table, fn: Any) -> pa.Table:
    """``fn`` applied to each column, releasing each source column as soon as its result exists (a whole-
    table filter/take would hold two copies of every column at once)."""
    schema = table.schema
    columns = [table.column(i) for i in range(table.num_columns)]
    del table
    for i in range(len(columns)):
        columns[i] = fn(columns[i])
    return pa.Table.from_arrays(columns, schema=schema)


def to_frame(table: pa.Table) -> pd.DataFrame:
    """An Arrow event table as the pandas frame :func:`load_events` returns."""
    for name in _CATEGORIES:
        i = table.schema.get_field_index(name)
        table = table.set_column(i, name, pc.dictionary_encode(table.column(name)))
    for name in ("iat", "nbf", "exp"):  # NumericDates past pipeline.NUMERIC_DATE_LIMIT are no dates: missing
        col = table.column(name)
        far = pc.greater_equal(pc.abs(col.cast(pa.float64(), safe=False)), float(NUMERIC_DATE_LIMIT))
        if pc.any(far).as_py():
            table = table.set_column(table.schema.get_field_index(name), name, pc.if_else(far, None, col))

    def mapper(t: pa.DataType) -> Any:
        return pd.StringDtype("pyarrow") if t == pa.string() else None

    df = table.to_pandas(types_mapper=mapper, self_destruct=True, split_blocks=True)
    df["schema"] = df["schema"].astype("int16")
    df["token_bytes"] = df["token_bytes"].fillna(0).astype("int32")
    df["duration_s"] = df["duration_s"].fillna(0.0).astype("float64")
    for c in ("iat", "nbf", "exp"):
        df[c] = df[c].astype("Int64")
    for c in _CATEGORIES:
        if not isinstance(df[c].dtype, pd.CategoricalDtype):
            df[c] = df[c].astype("category")
    return df


def load_events(path: str | Path) -> pd.DataFrame:
    """Validation events from a JSONL file, a Parquet file or a directory of them (searched recursively,
    e.g. Hive-style partitions). ``time`` is a UTC timestamp; ``iat``/``nbf``/``exp`` nullable ints;
    low-cardinality strings are categoricals, the others Arrow-backed strings. Key-set change records are
    left out (see :func:`load_keyset_changes`), and so is a record written twice (a file read twice, a
    shipper's retried batch: :func:`jwtobs.analysis.aggregate.distinct_events`). Raises :class:`EventsError`
    for unreadable or foreign files, ``FileNotFoundError`` for a missing path."""
    return distinct_events(to_frame(read_table(event_files(path))))


# -- key-set changes ---------------------------------------------------------------------------------------
def _read_changes(path: Path) -> list[dict[str, Any]]:
    """Only the lines naming an ``event`` are parsed (validation lines have no such key)."""
    changes: list[dict[str, Any]] = []
    opener = gzip.open if _gz(path) else open
    with opener(path, "rt", encoding="utf-8", errors="replace") as f:
        for line in f:
            if '"event":' not in line:
                continue
            try:
                d = json.loads(line)
            except ValueError:
                continue
            if isinstance(d, dict) and "event" in d:
                changes.append(d)
    return changes


def _changes_frame(changes: list[dict[str, Any]]) -> pd.DataFrame:
    cols = ["time", "issuer", "added", "removed", "keys", "service"]
    out = pd.DataFrame.from_records([c for c in changes if c.get("event") == "jwks.keyset_changed"], columns=cols)
    # (only strings are times: a number is not, and pandas 4 will read numbers as epochs)
    # (RFC 3339 allows a lower-case ``t`` and ``z``)
    stamps = out["time"].map(lambda v: v.upper() if isinstance(v, str) else None)
    times = pd.to_datetime(stamps, utc=True, format="ISO8601", errors="coerce")
    # nanoseconds, as the validations' times (a change stamped 9999 or 0001, outside their range, was an
    # internal error of jwtobs report before session 20): one outside it is dropped like one without a time
    lo, hi = pd.Timestamp.min.tz_localize("UTC"), pd.Timestamp.max.tz_localize("UTC")
    out["time"] = times.where((times >= lo) & (times <= hi)).astype("datetime64[ns, UTC]")
    out = out[out["time"].notna()]  # (a change without a time says nothing about when the key set changed)
    out["added"] = [list(a) if isinstance(a, list) else [] for a in out["added"]]
    out["removed"] = [list(a) if isinstance(a, list) else [] for a in out["removed"]]
    return out.sort_values("time", kind="stable").reset_index(drop=True)


def load_keyset_changes(path: str | Path) -> pd.DataFrame:
    """The ``jwks.keyset_changed`` records (time, issuer, added, removed, keys, service) of JSONL files."""
    changes: list[dict[str, Any]] = []
    for f in jsonl_files(path):
        if os.path.getsize(f):
            try:
                changes.extend(_read_changes(f))
            except (OSError, EOFError, zlib.error) as exc:
                if not _gz(f):
                    raise
                raise EventsError(f"{f}: unreadable gzip file ({_first_line(exc)})") from None  # truncated, corrupt
    return _changes_frame(changes)
