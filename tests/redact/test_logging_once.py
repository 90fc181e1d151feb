"""LoggingRedactor formats a clean record's message once: the handler's formatter gets the message the filter
formatted and proved clean (``processors._CheckedRecord``) instead of formatting it again, while ``msg``, ``args``
and ``__dict__`` stay as the caller made them (Sentry groups by ``msg``/``args``; JSON formatters list
``__dict__``). These tests pin that nothing else changes: later filters that replace ``msg`` or ``args`` are
honoured, copies and pickles are plain ``LogRecord``s, records of custom record factories are left alone, and
credentials are scrubbed for every handler as before."""

from __future__ import annotations

import copy
import io
import logging
import logging.handlers
import pickle
import queue
import threading
import time
from collections.abc import Iterator
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

import jwtobs
from jwtobs import config, redact
from jwtobs.redact import LoggingRedactor, processors
from jwtobs.redact import patterns as p

FMT = "%s - %s %s -> %d in %.1f ms ua=%s"
ARGS = ("10.1.2.3", "GET", "/api/v1/search?q=shoes+7&page=2&sort=price", 200, 12.25, "python-requests/2.31.0")
MESSAGE = FMT % ARGS


@pytest.fixture(scope="module", autouse=True)
def _trigger_gate_built() -> None:
    """The filter's clean path needs the trigger database (built in a background thread on first use)."""
    if p.hyperscan_gate() is None:
        pytest.skip("hyperscan is not installed (the scan extra): the message is formatted twice, as before")
    deadline = time.monotonic() + 30
    while processors._trigger_gate.check("x" * 80) is None:
        assert time.monotonic() < deadline, "trigger database not built in 30 s"
        time.sleep(0.02)


@pytest.fixture(scope="module")
def token() -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return jwt.encode({"sub": "alice", "exp": int(time.time()) + 600}, key, algorithm="RS256")


@pytest.fixture(autouse=True)
def _fingerprint_key() -> None:
    jwtobs.configure(fingerprint_key=b"k" * 32, fingerprint_key_id="t1", from_env=False)


def fp(token: str) -> str:
    return config.current().fingerprinter.token(token)


def logger_with(name: str, *handlers: logging.Handler, propagate: bool = False) -> logging.Logger:
    logger = logging.getLogger(name)
    logger.handlers[:] = list(handlers)
    logger.propagate = propagate
    logger.setLevel(logging.DEBUG)
    return logger


def stream(buf: io.StringIO, *filters: Any, fmt: str = "%(message)s") -> logging.Handler:
    handler = logging.StreamHandler(buf)
    handler.setFormatter(logging.Formatter(fmt))
    for f in filters:
        handler.addFilter(f)
    return handler


class Counted:
    """An argument that counts how often it is formatted."""

    def __init__(self) -> None:
        self.calls = 0

    def __str__(self) -> str:
        self.calls += 1
        return "client-7"


@pytest.fixture
def cleanup() -> Iterator[list[logging.Logger]]:
    made: list[logging.Logger] = []
    yield made
    for logger in made:
        logger.handlers.clear()
        logger.filters.clear()
        logger.propagate = True


def test_clean_record_is_formatted_once_and_keeps_msg_args_and_dict(cleanup: list[logging.Logger]) -> None:
    buf = io.StringIO()
    logger = logger_with("tests.redact.once", stream(buf, LoggingRedactor()))
    cleanup.append(logger)
    arg = Counted()
    logger.info("request from %s took %d ms at /api/v1/items?page=2 ua=python-requests/2.31.0", arg, 12)
    assert buf.getvalue() == "request from client-7 took 12 ms at /api/v1/items?page=2 ua=python-requests/2.31.0\n"
    assert arg.calls == 1  # (the filter's formatting; the formatter reused it)

    record = logging.LogRecord("x", logging.INFO, __file__, 1, FMT, ARGS, None)
    msg, args, before = record.msg, record.args, dict(record.__dict__)
    assert LoggingRedactor().filter(record) is True
    assert record.msg is msg and type(record.msg) is str and record.args is args
    assert record.__dict__ == before and isinstance(record, logging.LogRecord)
    assert type(record) is processors._CheckedRecord  # (the proof that the clean path ran)
    assert record.getMessage() == MESSAGE and logging.Formatter("%(message)s").format(record) == MESSAGE


def test_a_later_filter_that_replaces_args_or_msg_is_honoured(cleanup: list[logging.Logger]) -> None:
    def replace_args(record: logging.LogRecord) -> bool:
        assert isinstance(record.args, tuple)
        record.args = ("10.x.x.x", *record.args[1:])
        return True

    def replace_msg(record: logging.LogRecord) -> bool:
        record.msg = "rewritten: " + str(record.msg)
        return True

    def equal_but_other_types(record: logging.LogRecord) -> bool:
        record.args = (1.0,)  # == (1,) and the same hash: only identity may reuse the message
        return True

    for later, fmt, args, want in (
        (replace_args, FMT, ARGS, FMT % (("10.x.x.x", *ARGS[1:]))),
        (replace_msg, FMT, ARGS, "rewritten: " + MESSAGE),
        (equal_but_other_types, "value %s of the request /api/v1/items?page=2 ua=python-requests/2.31.0", (1,),
         "value 1.0 of the request /api/v1/items?page=2 ua=python-requests/2.31.0"),
    ):  # fmt: skip
        buf = io.StringIO()
        logger = logger_with("tests.redact.once.later", stream(buf, LoggingRedactor(), later))
        cleanup.append(logger)
        logger.info(fmt, *args)
        assert buf.getvalue() == want + "\n"


def test_records_checked_meanwhile_and_on_other_threads(cleanup: list[logging.Logger]) -> None:
    """A MemoryHandler filters each record when it is logged and formats them all at flush; a QueueListener
    formats on its own thread: every record gets its own message."""
    buf = io.StringIO()
    target = stream(buf)
    memory = logging.handlers.MemoryHandler(capacity=100, target=target, flushLevel=logging.CRITICAL)
    memory.addFilter(LoggingRedactor())
    logger = logger_with("tests.redact.once.memory", memory)
    cleanup.append(logger)
    rows = [(f"10.1.2.{i}", "GET", f"/api/v1/items/{i}?page={i}", 200, i / 3, "curl/8.4.0") for i in range(20)]
    for row in rows:
        logger.info(FMT, *row)
    memory.flush()
    assert buf.getvalue().splitlines() == [FMT % row for row in rows]

    q: queue.SimpleQueue[logging.LogRecord] = queue.SimpleQueue()
    out = io.StringIO()
    listener = logging.handlers.QueueListener(q, stream(out, LoggingRedactor()))
    queued = logger_with("tests.redact.once.queued", logging.handlers.QueueHandler(q))
    cleanup.append(queued)
    listener.start()
    try:
        workers = [
            threading.Thread(target=lambda n=n: [queued.info(FMT, *(f"10.0.{n}.{i}", *ARGS[1:])) for i in range(50)])
            for n in range(4)
        ]
        for w in workers:
            w.start()
        for w in workers:
            w.join(timeout=30)
    finally:
        listener.stop()
    expected = {FMT % (f"10.0.{n}.{i}", *ARGS[1:]) for n in range(4) for i in range(50)}
    assert set(out.getvalue().splitlines()) == expected and len(out.getvalue().splitlines()) == 200


def test_copies_and_pickles_are_plain_records() -> None:
    record = logging.LogRecord("x", logging.INFO, __file__, 1, FMT, ARGS, None)
    LoggingRedactor().filter(record)
    assert type(record) is processors._CheckedRecord
    for proto in range(pickle.HIGHEST_PROTOCOL + 1):
        back = pickle.loads(pickle.dumps(record, proto))
        assert type(back) is logging.LogRecord and back.__dict__ == record.__dict__
        assert back.getMessage() == MESSAGE
    for dup in (copy.copy(record), copy.deepcopy(record)):
        assert type(dup) is logging.LogRecord and dup.getMessage() == MESSAGE
    # SocketHandler sends a pickled dict with the formatted message; QueueHandler.prepare formats into msg
    sent = pickle.loads(logging.handlers.SocketHandler("127.0.0.1", 9).makePickle(record)[4:])
    assert sent["msg"] == MESSAGE and sent["args"] is None
    prepared = logging.handlers.QueueHandler(queue.SimpleQueue()).prepare(record)
    assert prepared.msg == MESSAGE and prepared.args is None
    assert record.msg == FMT and record.args == ARGS  # (prepare works on a copy)


def test_custom_record_classes_are_left_alone(cleanup: list[logging.Logger]) -> None:
    class BraceRecord(logging.LogRecord):
        def getMessage(self) -> str:
            return str(self.msg).format(*self.args) if isinstance(self.args, tuple) else str(self.msg)

    seen: list[type] = []
    previous = logging.getLogRecordFactory()
    logging.setLogRecordFactory(BraceRecord)
    try:
        buf = io.StringIO()
        logger = logger_with(
            "tests.redact.once.brace", stream(buf, LoggingRedactor(), lambda r: bool(seen.append(type(r))) or True)
        )
        cleanup.append(logger)
        logger.info("{} - {} {} took {} ms ua={}", "10.1.2.3", "GET", "/api/v1/items?page=2", 12, "curl/8.4.0")
    finally:
        logging.setLogRecordFactory(previous)
    assert buf.getvalue() == "10.1.2.3 - GET /api/v1/items?page=2 took 12 ms ua=curl/8.4.0\n"
    assert seen == [BraceRecord]


def test_every_handler_up_the_tree_gets_the_same_message_and_no_token(
    token: str, cleanup: list[logging.Logger]
) -> None:
    """install(): handlers of the root logger added before and of a child logger; clean records, a token argument,
    a token in the message, an exception and stack info: each handler writes the plain message for clean
    records and the marker for the token."""
    root_buf, child_buf = io.StringIO(), io.StringIO()
    root = logging.getLogger()
    root_handler = stream(root_buf, fmt="%(name)s %(message)s")
    root.addHandler(root_handler)
    child = logging.getLogger("tests.redact.once.tree")
    child.addHandler(stream(child_buf, fmt="%(name)s %(message)s"))
    child.setLevel(logging.DEBUG)
    cleanup.append(child)
    try:
        redact.install(structlog=False)
        child.info(FMT, *ARGS)
        child.info(FMT + " auth=%s", *ARGS, f"Bearer {token}")
        child.info(f"{MESSAGE} auth=Bearer {token}")
        try:
            raise ValueError(f"bad token {token}")
        except ValueError:
            child.exception(FMT, *ARGS)
        child.info(FMT, *ARGS, stack_info=True)
        child.info(FMT, *ARGS)
    finally:
        redact.uninstall()
        root.removeHandler(root_handler)
    for buf in (root_buf, child_buf):
        text = buf.getvalue()
        assert token not in text
        lines = [line for line in text.splitlines() if line.startswith("tests.redact.once.tree ")]
        assert lines[0] == f"tests.redact.once.tree {MESSAGE}" == lines[-1]
        assert lines[1] == lines[2] == f"tests.redact.once.tree {MESSAGE} auth=Bearer [REDACTED:jwt:{fp(token)}]"
        assert text.count(f"tests.redact.once.tree {MESSAGE}\n") == 4  # clean, exception, stack info, clean
        assert "Traceback" in text and "Stack (most recent call last)" in text


def test_the_filter_path_equals_the_scrubber_on_forms_and_generated_lines(token: str) -> None:
    """The clean path (the trigger check on the formatted message, any length) never lets through what the
    scrubber would change: every pinned form, a token, markers, inside short and long lines, as the message and as
    an argument."""
    import random

    from tests.redact.test_sinks import _LONG, FORMS, FRAGMENTS

    texts = [*FORMS, token, f"Bearer {token}", f"x [REDACTED:jwt:{fp(token)}] y"]
    texts += [f"{form} {_LONG}" for form in texts] + [f"{_LONG}{form}" for form in texts]
    rng = random.Random(31)
    for _ in range(3000):
        texts.append(_LONG[: rng.randint(0, 70)] + "".join(rng.choice(FRAGMENTS) for _ in range(rng.randint(1, 10))))
    redactor = LoggingRedactor()
    for text in texts:
        want = redact.scrub(text)
        for msg, args in ((text, ()), ("%s", (text,)), ("got %s", (text,))):
            record = logging.LogRecord("x", logging.INFO, __file__, 1, msg, args, None)
            redactor.filter(record)
            got = record.getMessage()
            assert got == (want if msg != "got %s" else redact.scrub("got " + text)), (msg, text)


def test_a_token_argument_ending_the_format_is_formatted_once(token: str, cleanup: list[logging.Logger]) -> None:
    """The token route proves "... auth=%s" clean without the detector pass and builds the message from its parts:
    the formatter writes it without formatting again; a later filter that replaces args still gets its own."""
    seen: list[type] = []
    buf = io.StringIO()
    logger = logger_with(
        "tests.redact.once.token", stream(buf, LoggingRedactor(), lambda r: bool(seen.append(type(r))) or True)
    )
    cleanup.append(logger)
    logger.info(
        "GET /api/v1/items?page=2 ua=python-requests/2.31.0 from %s took %d ms auth=%s",
        "client-7",
        12,
        f"Bearer {token}",
    )
    logger.info("GET /api/v1/items?page=2 ua=python-requests/2.31.0 from %s took %d ms at %s", "client-8", 13, token)
    marker = f"[REDACTED:jwt:{fp(token)}]"
    assert buf.getvalue().splitlines() == [
        f"GET /api/v1/items?page=2 ua=python-requests/2.31.0 from client-7 took 12 ms auth=Bearer {marker}",
        f"GET /api/v1/items?page=2 ua=python-requests/2.31.0 from client-8 took 13 ms at {marker}",
    ]
    assert seen == [processors._CheckedRecord, processors._CheckedRecord]
    buf2 = io.StringIO()

    def mask(record: logging.LogRecord) -> bool:
        assert isinstance(record.args, tuple)
        record.args = ("x.x.x.x", *record.args[1:])
        return True

    logger.handlers[:] = [stream(buf2, LoggingRedactor(), mask)]
    logger.info("GET /api/v1/items?page=2 ua=python-requests/2.31.0 from %s took %d ms auth=%s", "10.1.2.3", 12, token)
    assert (
        buf2.getvalue() == f"GET /api/v1/items?page=2 ua=python-requests/2.31.0 from x.x.x.x took 12 ms auth={marker}\n"
    )
