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
"""

from __future__ import annotations

import os
import threading
import weakref

__all__ = ["Lock"]

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
