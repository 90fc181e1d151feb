"""Locks that a forked child gets back unlocked.

``os.fork()`` copies a lock in the state it had at that moment, and only the forking thread goes on in the child:
a lock another thread of the parent held then stays held in the child for ever, and the first ``with lock:`` there
never returns. jwtobs takes its locks on the request path (the cardinality guard learning an issuer, a JWKS
counter, the replay memory), on the metric reader's thread (replaying buffered measurements, reading the counters)
and in ``configure()``; a preforking server, or a worker that forks (``multiprocessing`` with the ``fork`` start
method), can fork while one is held. Every lock made here is reinitialised in the child
(``Lock._at_fork_reinit``, what the standard library's ``logging`` does for its handlers' locks): whatever it
guarded in the child is the parent's copy, in the state the forking thread sees, which every user of these locks
keeps consistent at each step (single assignments and appends).

:func:`watch_worker_end`: a ``multiprocessing`` child started with ``fork`` or ``forkserver`` ends with
``os._exit`` (no ``atexit`` handler runs there); jwtobs's flush at exit is also run by ``multiprocessing``'s own
end of such a process.
"""

from __future__ import annotations

import os
import sys
import threading
import weakref
from collections.abc import Callable

__all__ = ["Lock", "at_worker_end", "watch_worker_end"]

_LOCKS: weakref.WeakSet[threading.Lock] = weakref.WeakSet()


def Lock() -> threading.Lock:
    """A ``threading.Lock`` that is unlocked again in a forked child."""
    lock = threading.Lock()
    _LOCKS.add(lock)
    return lock


def _reinit_in_child() -> None:
    for lock in list(_LOCKS):
        reinit = getattr(lock, "_at_fork_reinit", None)
        if reinit is not None:
            reinit()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_reinit_in_child)


#: what runs when a ``multiprocessing`` child ends, the last added first (as ``atexit`` does: the pipeline's flush at
#: exit, then the JSONL sinks' close)
_AT_WORKER_END: list[Callable[[], None]] = []
#: the process whose ``multiprocessing`` finalizer is registered (a forked child has its own, or none)
_WATCHED: list[int] = [0]


def at_worker_end(fn: Callable[[], None]) -> None:
    """Run ``fn`` also when a ``multiprocessing`` child ends (where ``atexit`` handlers do not run)."""
    _AT_WORKER_END.append(fn)


def _worker_end() -> None:
    for fn in reversed(_AT_WORKER_END):
        try:
            fn()
        except Exception:  # pragma: no cover - the flushes count their own failures
            pass


def watch_worker_end() -> None:
    """Called when a background thread of jwtobs starts (the event builder, a JSONL writer): from then on this
    process holds events that only a flush writes. A ``multiprocessing`` child started with ``fork`` or
    ``forkserver`` (a ``Pool`` or ``ProcessPoolExecutor`` worker included) ends with ``os._exit`` after its target
    returns, so no ``atexit`` handler runs: before session 37 every event still waiting there was lost, counted
    nowhere (2 processes validating 120 tokens each and a pool's 2 x 60: 0 of 360 written). ``multiprocessing``
    runs its finalizers then (``util._exit_function``), and those of the parent are forgotten in the child: one is
    registered per process, the first time a thread starts in it. Without ``multiprocessing`` imported, nothing."""
    pid = os.getpid()
    if _WATCHED[0] == pid:
        return
    util = sys.modules.get("multiprocessing.util")
    if util is None:
        return
    try:
        util.Finalize(None, _worker_end, exitpriority=0)
    except Exception:  # pragma: no cover - another multiprocessing
        return
    _WATCHED[0] = pid
