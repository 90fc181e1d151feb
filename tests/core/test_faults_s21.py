"""Session 21: an events path that is a named pipe (FIFO) no process reads."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader

import jwtobs

from .conftest import Keys
from .test_faults import _decode_ok, _metric_sums


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes")
@pytest.mark.parametrize("defer", [True, False])
def test_a_fifo_without_a_reader_drops_and_counts_instead_of_hanging(keys: Keys, tmp_path: Path, defer: bool) -> None:
    """Before: ``jwtobs.flush()`` (and the exit, which flushes) blocked for ever in ``open()`` of a FIFO that no
    process reads (a log shipper that is down). Now the events are dropped and counted, and once a reader is there
    they are written."""
    fifo = tmp_path / "events.fifo"
    os.mkfifo(fifo)
    reader = InMemoryMetricReader()
    jwtobs.configure(
        events_path=str(fifo),
        meter_provider=MeterProvider(metric_readers=[reader]),
        fingerprint_key="k" * 16,
        defer=defer,
        from_env=False,
    )
    done = threading.Event()

    def run() -> None:
        _decode_ok(keys, 3)
        jwtobs.flush()
        done.set()

    worker = threading.Thread(target=run, daemon=True)  # (daemon: a hang must fail the test, not block the run)
    t0 = time.monotonic()
    worker.start()
    assert done.wait(5), "flush blocked on the FIFO"
    assert time.monotonic() - t0 < 5
    assert _metric_sums(reader)["jwtobs.events.dropped"] == {(): 3.0}
    fd = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)  # a reader now: the next events are written
    try:
        _decode_ok(keys, 2)
        jwtobs.flush()
        time.sleep(0.05)
        lines = os.read(fd, 1 << 16).splitlines()
    finally:
        os.close(fd)
    assert len(lines) == 2 and all(line.startswith(b"{") for line in lines)
