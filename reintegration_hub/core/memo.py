"""Reads remembered for a while in each process: ``remembered(name, key, compute)``.

For reads whose inputs do not change under their key, such as figures from an outcome
snapshot (a new snapshot comes with a new id), so that a page asked for again and again does
the work once per process and ``MEMO_SECONDS``. Results are shared by the threads of a worker:
callers treat them as read-only. ``MEMO_SECONDS`` 0 remembers nothing (the tests' default, so a
rolled-back row's id, used again, is never answered from the memory of another test).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable
from typing import Any, TypeVar

from cachetools import TTLCache
from flask import current_app

T = TypeVar("T")
_EXTENSION = "reintegration_hub.memo"
#: results kept per name; the least recently used go first beyond it
MAX_ENTRIES = 128


class _Memory:
    def __init__(self, seconds: float) -> None:
        self.lock = threading.Lock()
        self.caches: dict[str, TTLCache[Hashable, Any]] = {}
        self.seconds = seconds

    def cache(self, name: str) -> TTLCache[Hashable, Any]:
        with self.lock:
            if name not in self.caches:
                self.caches[name] = TTLCache(maxsize=MAX_ENTRIES, ttl=self.seconds)
            return self.caches[name]


def _memory() -> _Memory | None:
    seconds = current_app.config["MEMO_SECONDS"]
    if not seconds:
        return None
    extensions = current_app.extensions
    if _EXTENSION not in extensions:
        extensions[_EXTENSION] = _Memory(seconds)
    memory: _Memory = extensions[_EXTENSION]
    return memory


def remembered(name: str, key: Hashable, compute: Callable[[], T]) -> T:
    """``compute()``'s result for ``key`` among ``name``'s, computed at most once per process
    and ``MEMO_SECONDS`` (two threads asking at once may both compute it)."""
    memory = _memory()
    if memory is None:
        return compute()
    cache = memory.cache(name)
    with memory.lock:
        if key in cache:
            found: T = cache[key]
            return found
    value = compute()
    with memory.lock:
        cache[key] = value
    return value
