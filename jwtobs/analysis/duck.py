"""The DuckDB engine: the detectors' per-minute aggregates computed inside DuckDB, out of core.

>>> from jwtobs.analysis import duck
>>> aggs = duck.aggregate("/var/log/jwtobs/events")        # a partitioned Parquet/JSONL directory
>>> incidents(aggs, duck.keyset_changes("/var/log/jwtobs/events"))

The events are never loaded into pandas: DuckDB scans the Parquet or JSONL files (a file, or a directory
searched recursively, e.g. the ``date=/hour=`` partitions :class:`jwtobs.rolling.RollingJsonlSink` writes)
and returns only the aggregates of :mod:`jwtobs.analysis.aggregate`, with the same columns, dtypes, rows and
order as the pandas engine gives for the same files (``tests/analysis/test_engines.py`` asserts equality).
DuckDB spills to disk past ``memory_limit``, so inputs larger than memory work; see
``benchmarks/bench_scale.py`` for 100 M events.

The same files are read as :func:`jwtobs.analysis.load_events` reads them (:func:`load.event_files`), and
the same input is refused: a truncated/corrupt Parquet file, a line that is not JSON in the middle of a JSONL
file, an event schema version this jwtobs does not read. Each is a :class:`jwtobs.analysis.load.EventsError`
with one line naming the file. An unterminated last line (a file being written) is tolerated.

:func:`compact` turns JSONL events (e.g. a rolled directory) into a Hive-partitioned Parquet directory.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Collection, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import pandas as pd

from jwtobs.analysis._duckio import (
    _FIELDS,
    DEFAULT_MEMORY_LIMIT,
    NotEventsError,
    _arrow,
    _errors,
    _file_error,
    _list,
    _lit,
    _type,
    clean_jsonl_query,
    connect,
    sql_path,
)
from jwtobs.analysis.aggregate import (
    CONCURRENT,
    CONT_GAP,
    CONT_LIFE,
    CONT_LIFE_MAX,
    CONT_LONGEST,
    CONT_PACE,
    COUNTS_SCHEMA,
    LATENESS_EDGES,
    LATENESS_SCHEMA,
    OTHER,
    PACED_RANGE,
    RECORD_KEY,
    SUBJECT_CYCLES,
    SUBJECT_LATE,
    SUBJECT_TOGETHER,
    SUBJECT_WINDOW,
    SUBJECTS_SCHEMA,
    Aggregates,
)
from jwtobs.analysis.load import (
    OUTCOMES,
    READABLE_SCHEMAS,
    EventsError,
    _changes_frame,
    _complete_length,
    _conform,
    _read_changes,
    _read_jsonl,
    _read_parquet,
    check_outcomes,
    check_times,
    event_files,
    jsonl_files,
)
from jwtobs.pipeline import NUMERIC_DATE_LIMIT

if TYPE_CHECKING:
    import duckdb

__all__ = ["aggregate", "keyset_changes", "compact", "connect", "events_sql", "DEFAULT_MEMORY_LIMIT"]


# -- the events as SQL -------------------------------------------------------------------------------------
def _parquet_sql(con: duckdb.DuckDBPyConnection, files: list[Path]) -> str:
    src = f"read_parquet({_list(files)}, union_by_name = true, hive_partitioning = false)"
    try:
        present = {row[0]: row[1] for row in con.execute(f"DESCRIBE SELECT * FROM {src}").fetchall()}
    except Exception as exc:
        raise _file_error(exc, files, "unreadable Parquet file") from None
    cols = []
    for name in _FIELDS:
        if name not in present:
            cols.append(f"CAST(NULL AS {_type(name)}) AS {name}")
        elif name == "time" and present[name] in ("VARCHAR", "JSON"):
            cols.append("CAST(upper(time) AS TIMESTAMPTZ) AS time")
        else:
            cols.append(f"CAST({name} AS {_type(name)}) AS {name}")
    where = " WHERE event IS NULL" if "event" in present else ""
    return f"SELECT {', '.join(cols)} FROM {src}{where}"


def _jsonl_sql(con: duckdb.DuckDBPyConnection, files: list[Path], arrow: Collection[Path] = ()) -> list[str]:
    """DuckDB's JSON reader over the complete files. A file whose last line is torn (being written; the
    current hour of a rolled directory, at most ``max_bytes``), and a file of ``arrow`` (one DuckDB refused:
    lines torn mid-file, see :func:`_events`), is read by the pandas engine's reader and registered as an Arrow
    view, so both engines read exactly the same lines."""
    nonempty = [f for f in files if f.stat().st_size]
    torn = [f for f in nonempty if f in arrow or not sql_path(f) or _complete_length(f) != f.stat().st_size]
    clean = [f for f in nonempty if f not in torn]
    out = [clean_jsonl_query(clean)] if clean else []
    for f in torn:
        view = f"jwtobs_torn_{uuid.uuid4().hex[:12]}"
        con.register(view, _conform(_read_jsonl(f), f))
        out.append(f"SELECT {', '.join(_FIELDS)} FROM {view}")
    return out


def events_sql(con: duckdb.DuckDBPyConnection, path: str | Path, arrow: Collection[Path] = ()) -> str:
    """A SQL query over the validation events of ``path`` with the columns of
    :data:`jwtobs.events.EVENT_FIELDS` (``time`` a UTC ``TIMESTAMPTZ``); the JSONL files of ``arrow`` read by the
    pandas engine's reader. Raises ``FileNotFoundError`` or :class:`EventsError`."""
    return files_sql(con, event_files(path), arrow)


def files_sql(con: duckdb.DuckDBPyConnection, files: Sequence[Path], arrow: Collection[Path] = ()) -> str:
    """:func:`events_sql` over the event files ``files``."""
    parquet = [f for f in files if f.suffix == ".parquet"]
    named = [f for f in parquet if sql_path(f)]
    parts = ([_parquet_sql(con, named)] if named else []) + _jsonl_sql(
        con, [f for f in files if f.suffix != ".parquet"], arrow
    )
    for f in parquet:
        if f not in named:  # (a file name DuckDB's SQL cannot hold: read by the pandas engine's reader)
            view = f"jwtobs_named_{uuid.uuid4().hex[:12]}"
            con.register(view, _read_parquet(f))
            parts.append(f"SELECT {', '.join(_FIELDS)} FROM {view}")
    if not parts:
        cols = ", ".join(f"CAST(NULL AS {_type(n)}) AS {n}" for n in _FIELDS)
        return f"SELECT {cols} WHERE false"
    return " UNION ALL ".join(f"({p})" for p in parts)


#: up to this many events, whether some record is written twice is counted exactly (distinct hashes of the
#: record key, ~0.3 CPU-s per million events); above, a HyperLogLog estimate (0.4 CPU-s per 10 M) must fall
#: DUP_SHARE or more below the count (a file read twice: half), since an exact count costs 4 CPU-s per 10 M
EXACT_DISTINCT_ROWS: Final = 2_000_000
DUP_SHARE: Final = 0.01


def _distinct(con: duckdb.DuckDBPyConnection, events: str, files: Sequence[Path], table: str) -> str:
    """``events`` with each record once, as :func:`jwtobs.analysis.aggregate.distinct_events` does for the
    pandas engine: when some record is there twice, the distinct records are written once into the temporary
    ``table`` (every later query reads them from there). Identical to the pandas engine up to
    :data:`EXACT_DISTINCT_ROWS` events; above, stray duplicates under :data:`DUP_SHARE` are counted as they are."""
    key = ", ".join(RECORD_KEY)
    with _errors(files):
        row = con.execute(f"SELECT count(*), approx_count_distinct(hash({key})) FROM ({events})").fetchone()
        n, estimate = (int(row[0]), int(row[1])) if row else (0, 0)
        if n < 2 or (n > EXACT_DISTINCT_ROWS and estimate >= n * (1.0 - DUP_SHARE)):
            return events
        if n <= EXACT_DISTINCT_ROWS:
            row = con.execute(f"SELECT count(DISTINCT hash({key})) FROM ({events})").fetchone()
            if row and int(row[0]) == n:
                return events
        con.execute(f"CREATE TEMP TABLE {table} AS SELECT DISTINCT ON ({key}) * FROM ({events})")
    return f"SELECT * FROM {table}"


def _check_schema(
    con: duckdb.DuckDBPyConnection, events: str, files: Sequence[Path], arrow: Collection[Path] = ()
) -> None:
    """Every event of a readable schema version, with a time and an outcome of its two (as
    :func:`jwtobs.analysis.load.read_table`). The error names the file holding the first such event, as the
    pandas engine's does (:func:`_culprit`)."""
    readable = ", ".join(str(v) for v in sorted(READABLE_SCHEMAS))
    no_time = "time IS NULL"
    with _errors(files):
        row = con.execute(f"SELECT count(*) FROM ({events}) WHERE {no_time}").fetchone()
    missing = int(row[0]) if row else 0
    if missing:
        check_times(_culprit(con, files, arrow, no_time), missing)
    other = f"outcome IS NULL OR outcome NOT IN ({', '.join(_lit(o) for o in sorted(OUTCOMES))})"
    with _errors(files):
        outcomes = con.execute(f"SELECT DISTINCT outcome FROM ({events}) WHERE {other} LIMIT 10").fetchall()
    if outcomes:
        check_outcomes(_culprit(con, files, arrow, other), [v for (v,) in outcomes])
    unread = f"schema NOT IN ({readable})"
    with _errors(files):
        bad = con.execute(f"SELECT DISTINCT schema FROM ({events}) WHERE {unread}").fetchall()
    if bad:
        versions = ", ".join(str(v) for (v,) in sorted(bad))
        raise EventsError(
            f"{_culprit(con, files, arrow, unread)}: event schema version {versions}; this jwtobs reads {readable} "
            "(upgrade jwtobs to read these events)"
        )


def _culprit(con: duckdb.DuckDBPyConnection, files: Sequence[Path], arrow: Collection[Path], condition: str) -> str:
    """The first of ``files`` holding an event that meets the SQL ``condition`` (a check's failure): halves of the
    files are queried until one is left (a directory of 10 000 files: 14 queries, about two reads of the events,
    and only when a check failed). Their common directory when the halves cannot tell (none meets it alone)."""
    refused = set(arrow)

    def meets(part: list[Path]) -> bool:
        with _errors(part):
            sql = files_sql(con, part, [f for f in part if f in refused])
            return con.execute(f"SELECT 1 FROM ({sql}) WHERE {condition} LIMIT 1").fetchone() is not None

    found = list(files)
    while len(found) > 1:
        half = found[: len(found) // 2]
        found = half if meets(half) else found[len(half) :]
    if meets(found):
        return str(found[0])
    return str(Path(os.path.commonpath([str(f) for f in files] or ["."])))


#: a directory of more than this many JSONL files, all of them together at most MANY_FILES_BYTES, is read once into
#: a temporary table: every query of the engine (the checks, the labels, the lateness, the counts) scans its events
#: again, and each scan opens every file (10 000 one-event files: ~4 s a scan, 105 s in all before session 34)
MANY_FILES: Final = 64
MANY_FILES_BYTES: Final = 256 * 1024 * 1024


def _many_small(files: Sequence[Path]) -> bool:
    jsonl = [f for f in files if f.suffix != ".parquet"]
    return len(jsonl) > MANY_FILES and sum(f.stat().st_size for f in jsonl) <= MANY_FILES_BYTES


def _events(con: duckdb.DuckDBPyConnection, path: str | Path, table: str | None = None) -> tuple[str, list[Path]]:
    """The checked events query of ``path`` (:func:`events_sql` + :func:`_check_schema`) and its files. When
    DuckDB's reader refuses a JSONL file as no events file, each complete JSONL file is tried on its own once,
    and those it refuses are read by the pandas engine's reader, which reads a file with a few lines cut
    mid-file without them (and says so: :func:`jwtobs.analysis.load._salvage`) and refuses the others with its
    own one-line error naming the file: at most one more pass over the files, whatever their number. Many small
    JSONL files (:data:`MANY_FILES`) are read once into the temporary ``table`` when one is given."""
    files = event_files(path)
    once = table is not None and _many_small(files)

    def read(arrow: Collection[Path] = ()) -> str:
        query = events_sql(con, path, arrow)
        if not once:
            return query
        with _errors(files):
            con.execute(f"CREATE OR REPLACE TEMP TABLE {table} AS {query}")
        return f"SELECT * FROM {table}"

    try:
        events = read()
        _check_schema(con, events, files)
    except NotEventsError:
        refused = _refused(con, [f for f in files if f.suffix != ".parquet"])
        if not refused:
            raise
        events = read(refused)
        _check_schema(con, events, files, refused)
    return events, files


def _refused(con: duckdb.DuckDBPyConnection, files: list[Path]) -> list[Path]:
    """The complete, non-empty JSONL ``files`` DuckDB's reader refuses, each read on its own."""
    out = []
    for f in files:
        if f.stat().st_size and _complete_length(f) == f.stat().st_size:
            cur = con.cursor()  # (a result that failed half-read would keep ``con`` busy)
            try:
                with _errors([f]):
                    cur.execute(f"SELECT count(*) FROM ({clean_jsonl_query([f])})").fetchone()
            except NotEventsError:
                out.append(f)
            finally:
                cur.close()
    return out


# -- aggregates --------------------------------------------------------------------------------------------
def _bounded(column: str, keep: str) -> str:
    return f"CASE WHEN {column} IS NULL OR {column} IN (SELECT v FROM {keep}) THEN {column} ELSE {_lit(OTHER)} END"


def _bin(x: str) -> str:
    """The upper edge of the :data:`LATENESS_EDGES` bin holding ``x`` (the first edge >= x)."""
    finite = [e for e in LATENESS_EDGES if e != float("inf")]
    whens = " ".join(f"WHEN v <= {e!r} THEN {e!r}" for e in finite)
    return f"CASE {whens.replace('v <=', x + ' <=')} ELSE CAST('infinity' AS DOUBLE) END"


def _aggregate_sql(events: str, keep_min: int, label_table: str) -> tuple[str, str, str]:
    """(label set query, counts query, lateness prefix: the CTEs up to ``l``, see :func:`_lateness`)."""
    labels = f"""
    CREATE TEMP TABLE {label_table} AS
    WITH ev AS ({events})
    SELECT col, v FROM (
        SELECT 'client_id' AS col, client_id AS v, bool_or(outcome = 'accepted') AS acc, count(*) AS n
            FROM ev WHERE client_id IS NOT NULL GROUP BY client_id
        UNION ALL
        SELECT 'kid', kid, bool_or(outcome = 'accepted'), count(*) FROM ev WHERE kid IS NOT NULL GROUP BY kid
        UNION ALL
        SELECT 'typ', typ, bool_or(outcome = 'accepted'), count(*) FROM ev WHERE typ IS NOT NULL GROUP BY typ
    ) WHERE acc OR n >= {int(keep_min)}
    """
    base = f"""
    WITH ev AS NOT MATERIALIZED ({events}),
    kc AS (SELECT v FROM {label_table} WHERE col = 'client_id'),
    kk AS (SELECT v FROM {label_table} WHERE col = 'kid'),
    kt AS (SELECT v FROM {label_table} WHERE col = 'typ'),
    e AS NOT MATERIALIZED (
        SELECT time, date_trunc('minute', time) AS minute, issuer, profile,
            {_bounded("client_id", "kc")} AS client_id, {_bounded("kid", "kk")} AS kid,
            {_bounded("typ", "kt")} AS typ, outcome, reason,
            CASE WHEN abs(exp) < {NUMERIC_DATE_LIMIT} THEN exp END AS exp,
            CASE WHEN abs(nbf) < {NUMERIC_DATE_LIMIT} THEN nbf END AS nbf, token_fp,
            CASE WHEN abs(iat) < {NUMERIC_DATE_LIMIT} THEN iat END AS iat, sub_hash,
            epoch_ns(time) / 1e9 AS t
        FROM ev
    )"""
    counts = f"""{base}
    SELECT minute, issuer, profile, client_id, kid, typ, outcome, reason,
        coalesce(t - CAST(exp AS DOUBLE) > 0, false) AS past_exp, count(*) AS count, max(exp) AS max_exp
    FROM e GROUP BY ALL
    ORDER BY minute, issuer, profile, client_id, kid, typ, outcome, reason, past_exp NULLS LAST"""
    lateness = f"""{base},
    s AS (
        SELECT *,
            reason = 'JWT_EXPIRED' AND t - CAST(exp AS DOUBLE) > 0 AS late_rej,
            outcome = 'accepted' AND t - CAST(exp AS DOUBLE) > 0 AS late_acc,
            -- (aggregate.not_before: the later of nbf and iat, either may be missing)
            reason = 'JWT_NOT_YET_VALID' AND CAST(greatest(nbf, iat) AS DOUBLE) - t > 0 AS early_rej
        FROM e
        WHERE (reason = 'JWT_EXPIRED' OR outcome = 'accepted' OR reason = 'JWT_NOT_YET_VALID')
    ),
    l AS (
        SELECT *,
            CASE WHEN coalesce(early_rej, false) THEN CAST(greatest(nbf, iat) AS DOUBLE) - t
                ELSE t - CAST(exp AS DOUBLE) END AS x
        FROM s WHERE coalesce(late_rej, false) OR coalesce(late_acc, false) OR coalesce(early_rej, false)
    )"""
    return labels, counts, lateness


#: rows of one window pass of ``cont`` (the uses of late-rejected tokens, split by a hash of the token):
#: DuckDB's window operator holds its partitions in memory, so 100 M events are done in several passes
CONT_PASS_ROWS: Final = 4_000_000


def _lateness(con: duckdb.DuckDBPyConnection, late: str, tmp: str) -> Any:
    """The lateness result (Arrow) from the lateness prefix ``late``. ``cont``/``seen`` are per-token window
    computations, done in passes over buckets of a hash of ``token_fp`` (each token in exactly one pass, so
    the result is the single query's): the uses of late-rejected tokens go to a temporary table (which
    DuckDB spills to disk), each bucket's windows add its late rejections in use to ``{tmp}_c``, and the
    lateness rows join it."""
    con.execute(
        f"CREATE TEMP TABLE {tmp}_tok AS {late} "
        "SELECT DISTINCT token_fp FROM l WHERE coalesce(late_rej, false) AND token_fp IS NOT NULL"
    )
    con.execute(
        f"CREATE TEMP TABLE {tmp}_u AS {late} "
        "SELECT t, token_fp, hash(token_fp) AS h, outcome = 'accepted' AS ok, "
        "coalesce(reason = 'JWT_EXPIRED' AND t - CAST(exp AS DOUBLE) > 0, false) AS late_rej, "
        "CAST(exp AS DOUBLE) - CAST(iat AS DOUBLE) AS life "
        f"FROM e WHERE token_fp IN (SELECT token_fp FROM {tmp}_tok)"
    )
    row = con.execute(f"SELECT count(*) FROM {tmp}_u").fetchone()
    passes = max(1, -(-int(row[0] if row else 0) // CONT_PASS_ROWS))
    con.execute(f"CREATE TEMP TABLE {tmp}_c (t DOUBLE, token_fp VARCHAR, kept BOOLEAN, paced BOOLEAN, sibling BOOLEAN)")
    for k in range(passes):
        con.execute(
            f"""INSERT INTO {tmp}_c
    WITH g AS (
        SELECT t, token_fp, ok, late_rej, life, t - lag(t) OVER (PARTITION BY token_fp ORDER BY t, ok DESC) AS gap
        FROM {tmp}_u WHERE h % {passes} = {k}
    ),
    u AS (
        SELECT *, coalesce(gap >= {CONCURRENT!r}, true) AS starts,
            sum(CASE WHEN coalesce(gap >= {CONCURRENT!r}, true) THEN 1 ELSE 0 END)
                OVER (PARTITION BY token_fp ORDER BY t, ok DESC ROWS UNBOUNDED PRECEDING) AS visit
        FROM g
    ),
    p AS (
        SELECT token_fp, greatest({CONT_PACE!r} * median(gap) FILTER (WHERE ok AND starts AND gap IS NOT NULL),
            {CONT_LONGEST!r} * max(gap) FILTER (WHERE ok AND starts AND gap IS NOT NULL)) AS pace,
            median(gap) FILTER (WHERE ok AND starts AND gap IS NOT NULL) AS med,
            CASE WHEN max(life) IS NULL THEN {CONT_GAP[1]!r}
                ELSE greatest({CONT_GAP[1]!r}, least({CONT_LIFE!r} * max(life), {CONT_LIFE_MAX!r})) END AS upper
        FROM u GROUP BY token_fp
    ),
    ch AS (
        SELECT u.*, p.med, sum(CASE WHEN gap IS NULL OR gap > least(greatest(coalesce(p.pace, {CONT_GAP[0]!r}),
                {CONT_GAP[0]!r}), p.upper) THEN 1 ELSE 0 END)
            OVER (PARTITION BY u.token_fp ORDER BY t, ok DESC ROWS UNBOUNDED PRECEDING) AS chain
        FROM u JOIN p USING (token_fp)
    ),
    co AS (
        SELECT *, sum(CAST(ok AS INTEGER))
            OVER (PARTITION BY token_fp, chain ORDER BY t, ok DESC ROWS UNBOUNDED PRECEDING) > 0 AS seen,
            sum(CAST(late_rej AS INTEGER))
                OVER (PARTITION BY token_fp, chain ORDER BY t, ok DESC ROWS UNBOUNDED PRECEDING)
            - sum(CAST(late_rej AS INTEGER))
                OVER (PARTITION BY token_fp, visit ORDER BY t, ok DESC ROWS UNBOUNDED PRECEDING) > 0 AS kept,
            max(CASE WHEN starts THEN gap END) OVER (PARTITION BY token_fp, visit) AS step,
            min(t) FILTER (WHERE late_rej) OVER (PARTITION BY token_fp, visit) AS first_rej
        FROM ch
    ),
    v AS (
        SELECT *, bool_or(late_rej AND seen AND kept) OVER (PARTITION BY token_fp, visit) AS v_kept,
            bool_or(late_rej AND seen) OVER (PARTITION BY token_fp, visit) AS v_seen
        FROM co
    )
    SELECT t, token_fp, bool_or(v_kept) AS kept, coalesce(any_value(step)
        BETWEEN {PACED_RANGE[0]!r} * any_value(med) AND {PACED_RANGE[1]!r} * any_value(med), false)
            AND t = any_value(first_rej) AS paced, t > any_value(first_rej) AS sibling
    FROM v WHERE late_rej AND v_seen GROUP BY t, token_fp"""
        )
    con.execute(f"DROP TABLE {tmp}_u")
    _new_subjects(con, late, tmp)
    return _arrow(
        con,
        f"""{late},
    b AS (
        SELECT l.minute, l.issuer, l.profile, l.client_id, l.outcome,
            CASE WHEN coalesce(l.early_rej, false) THEN 'early' ELSE 'late' END AS direction,
            {_bin("l.x")} AS le,
            coalesce(l.late_acc, false) OR (coalesce(l.late_rej, false) AND coalesce(c.kept, false)) AS cont,
            coalesce(l.late_acc, false) OR (coalesce(l.late_rej, false) AND c.t IS NOT NULL) AS seen,
            coalesce(l.late_acc, false) OR (coalesce(l.late_rej, false) AND coalesce(c.paced, false)) AS paced,
            coalesce(l.late_rej, false) AND coalesce(c.sibling, false) AS sibling,
            coalesce({_near("l")} AND n.new_subject, false) AS new_subject, l.sub_hash AS subject
        FROM l LEFT JOIN {tmp}_c c ON coalesce(l.late_rej, false) AND l.t = c.t AND l.token_fp = c.token_fp
        LEFT JOIN {tmp}_n n ON l.sub_hash = n.sub_hash AND l.token_fp = n.token_fp AND l.t = n.f
    )
    SELECT minute, issuer, profile, client_id, outcome, direction, le, cont, seen, paced, sibling, new_subject,
        subject, count(*) AS count
    FROM b GROUP BY ALL
    ORDER BY minute, issuer, profile, client_id, outcome, direction, le, cont, seen, paced, sibling, new_subject,
        subject NULLS LAST""",
    )


def _near(e: str) -> str:
    """SQL: the row of ``e`` is a near failure (``new_subject``: rejected past ``exp`` by at most SUBJECT_LATE)."""
    return (
        f"coalesce({e}.reason = 'JWT_EXPIRED' AND {e}.t - CAST({e}.exp AS DOUBLE) > 0 "
        f"AND {e}.t - CAST({e}.exp AS DOUBLE) <= {SUBJECT_LATE!r}, false)"
    )


def _new_subjects(con: duckdb.DuckDBPyConnection, late: str, tmp: str) -> None:
    """``{tmp}_n`` (sub_hash, token_fp, f, new_subject): the pandas engine's ``_new_subject`` per token with a
    near failure, for its first one (at ``f``) - another token of the subject failing so within the window and
    more than SUBJECT_TOGETHER s before (the subject's latest first near failure at or before ``f - SUBJECT_TOGETHER``:
    a window's running maximum; before session 33 an as-of join, which DuckDB ran as a join of every pair of a
    subject's near failures - 29.6 M rows for 0.5 M events of 50 subjects, quadratic), or no other token of the
    subject seen before ``f``, makes it no new subject."""
    window = f"greatest({SUBJECT_WINDOW!r}, coalesce({SUBJECT_CYCLES!r} * g.life, 0.0))"
    con.execute(
        f"""CREATE TEMP TABLE {tmp}_n AS {late},
    every AS (
        SELECT sub_hash, token_fp, min(t) AS s, min(t) FILTER (WHERE {_near("e")}) AS f,
            max(CAST(exp AS DOUBLE) - CAST(iat AS DOUBLE)) FILTER (WHERE {_near("e")}) AS life
        FROM e WHERE token_fp IS NOT NULL AND sub_hash IS NOT NULL GROUP BY sub_hash, token_fp
    ),
    tok AS (
        SELECT * FROM every WHERE sub_hash IN (SELECT sub_hash FROM every WHERE f IS NOT NULL)
    ),
    f1 AS (SELECT sub_hash, min(s) AS s1, arg_min(token_fp, s) AS t1 FROM tok GROUP BY sub_hash),
    f2 AS (SELECT tok.sub_hash, min(s) AS s2 FROM tok JOIN f1 USING (sub_hash) WHERE token_fp <> t1 GROUP BY ALL),
    g AS (
        SELECT *, max(f) OVER (
            PARTITION BY sub_hash ORDER BY f RANGE BETWEEN UNBOUNDED PRECEDING AND {SUBJECT_TOGETHER!r} PRECEDING
        ) AS af
        FROM tok WHERE f IS NOT NULL
    ),
    j AS (SELECT g.sub_hash, g.token_fp, g.f, coalesce(g.f - g.af <= {window}, false) AS again FROM g)
    SELECT j.sub_hash, j.token_fp, j.f,
        NOT j.again AND coalesce(CASE WHEN j.token_fp = f1.t1 THEN f2.s2 ELSE f1.s1 END < j.f, false) AS new_subject
    FROM j JOIN f1 USING (sub_hash) LEFT JOIN f2 USING (sub_hash)"""
    )


def _typed(table: Any, schema: dict[str, str]) -> pd.DataFrame:
    """The Arrow result as a frame of ``schema``'s dtypes, column by column (strings go straight to
    pandas' string dtype, never through Python objects: the counts of 100 M events have millions of rows).
    Each Arrow column is released once converted, so the result is held about once, not twice."""
    import pyarrow as pa

    string = pd.StringDtype()

    def mapper(t: Any) -> Any:
        return string if t in (pa.string(), pa.large_string(), pa.string_view()) else None

    out = pd.DataFrame(index=range(table.num_rows))
    for col, dtype in schema.items():
        s = table.select([col]).to_pandas(types_mapper=mapper)[col]
        table = table.drop_columns([col])
        if dtype.startswith("datetime64"):
            out[col] = pd.to_datetime(s, utc=True).astype(dtype)
        else:
            # (no astype where the dtype is already right: pandas 2 would copy the column; pandas 3 deprecates
            # astype's copy argument)
            out[col] = s if str(s.dtype) == dtype else s.astype(dtype)
        del s
    return out


def aggregate(
    path: str | Path,
    keep_min: int = 10,
    *,
    con: duckdb.DuckDBPyConnection | None = None,
    memory_limit: str | None = DEFAULT_MEMORY_LIMIT,
) -> Aggregates:
    """The per-minute aggregates (:class:`jwtobs.analysis.aggregate.Aggregates`) of the events of ``path``
    (a JSONL or Parquet file, or a directory of them), computed by DuckDB. Equal to
    ``aggregate(load_events(path), keep_min)`` without loading the events."""
    own = con is None
    con = con if con is not None else connect(memory_limit)
    label_table = f"jwtobs_labels_{uuid.uuid4().hex[:12]}"
    result: list[Any] = []
    try:
        events, files = _events(con, path, f"{label_table}_all")
        events = _distinct(con, events, files, f"{label_table}_ev")
        labels, counts_q, late = _aggregate_sql(events, keep_min, label_table)
        with _errors(files):
            con.execute(labels)
            # the small result first; each result's Arrow copy is released while it is converted, before
            # the next query runs, so DuckDB's working memory and a converted result never add up
            lateness = _typed(_lateness(con, late, label_table), LATENESS_SCHEMA)
            subjects = _typed(_arrow(con, _subjects_sql(events)), SUBJECTS_SCHEMA)
            result.append(_arrow(con, counts_q))
    finally:
        for table in (label_table, *(f"{label_table}_{x}" for x in ("tok", "u", "c", "n", "ev", "all"))):
            con.execute(f"DROP TABLE IF EXISTS {table}")
        if own:
            con.close()  # DuckDB's buffers go before the largest result is converted (30 M events: -0.4 GB)
    counts = _typed(result.pop(), COUNTS_SCHEMA)  # the only reference to the Arrow result: freed as converted
    return Aggregates(counts, lateness, engine="duckdb", has_cont=True, subjects=subjects)


def _subjects_sql(events: str) -> str:
    """SQL: ``Aggregates.subjects`` (the pandas engine's ``_subjects``) of the events query ``events``."""
    return f"""WITH ev AS ({events})
    SELECT client_id, count(DISTINCT sub_hash) AS subjects FROM ev
    WHERE outcome = 'accepted' AND client_id IS NOT NULL AND sub_hash IS NOT NULL
    GROUP BY client_id ORDER BY client_id"""


def keyset_changes(path: str | Path, *, con: duckdb.DuckDBPyConnection | None = None) -> pd.DataFrame:
    """The ``jwks.keyset_changed`` records of the JSONL files of ``path``, read by DuckDB; the same frame as
    :func:`jwtobs.analysis.load_keyset_changes`."""
    every = [f for f in jsonl_files(path) if f.stat().st_size]
    files = [f for f in every if sql_path(f)]
    python = [c for f in every if f not in files for c in _read_changes(f)]  # (names DuckDB's SQL cannot hold)
    if not files:
        return _changes_frame(python)
    con = con if con is not None else connect()
    cols = {
        "event": "VARCHAR",
        "time": "VARCHAR",
        "issuer": "VARCHAR",
        "added": "VARCHAR[]",
        "removed": "VARCHAR[]",
        "keys": "BIGINT",
        "service": "VARCHAR",
    }
    spec = "{" + ", ".join(f"{_lit(k)}: {_lit(v)}" for k, v in cols.items()) + "}"
    query = (
        f"SELECT time, issuer, added, removed, keys, service FROM read_json({_list(files)}, "
        f"format = 'newline_delimited', columns = {spec}, ignore_errors = true) "
        "WHERE event = 'jwks.keyset_changed'"
    )
    with _errors(files):
        rows = con.execute(query).fetchall()
    names = ["time", "issuer", "added", "removed", "keys", "service"]
    return _changes_frame([{"event": "jwks.keyset_changed", **dict(zip(names, r, strict=True))} for r in rows] + python)


def compact(
    source: str | Path,
    target: str | Path,
    *,
    con: duckdb.DuckDBPyConnection | None = None,
    memory_limit: str | None = DEFAULT_MEMORY_LIMIT,
) -> int:
    """Write the validation events of ``source`` as a Hive-partitioned Parquet directory ``target``
    (``date=YYYY-MM-DD/hour=HH/*.parquet``, zstd) that :func:`aggregate` and ``load_events`` read. The
    directory is written beside ``target`` and renamed into place, so a failure leaves nothing behind.
    Returns the number of events written."""
    target = Path(target)
    if target.exists():
        raise FileExistsError(target)
    con = con if con is not None else connect(memory_limit)
    events, files = _events(con, source)
    tmp = target.with_name(f".{target.name}.tmp-{uuid.uuid4().hex[:8]}")
    try:
        with _errors(files):
            n = con.execute(f"SELECT count(*) FROM ({events})").fetchone()
            con.execute(
                f"COPY (SELECT *, strftime(time, '%Y-%m-%d') AS date, strftime(time, '%H') AS hour FROM ({events})) "
                f"TO {_lit(str(tmp))} (FORMAT parquet, COMPRESSION zstd, PARTITION_BY (date, hour))"
            )
        os.replace(tmp, target)
    except BaseException:
        import shutil

        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return int(n[0]) if n else 0
