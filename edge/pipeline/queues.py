"""Two bounded hand-off queues, one per delivery policy.

- ``LatestSlot``: holds one item; a new item replaces an unread one, which counts as dropped. Analytics
  use it so they always work on the newest frame and never build a backlog.
- ``BoundedQueue``: FIFO with a fixed capacity; ``offer`` never blocks the producer (the capture thread
  must keep pace with the sensor), and an item that does not fit counts as an overflow. The recorder uses
  it: it takes every frame, and an overflow is a reported loss, not a silent one.

Both are safe for one producer and one consumer thread; ``get`` wakes up on ``close``.
"""

from __future__ import annotations

import collections
import threading
from typing import Generic, TypeVar

T = TypeVar("T")


class LatestSlot(Generic[T]):
    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._item: T | None = None
        self._closed = False
        self.dropped = 0

    def offer(self, item: T) -> bool:
        """Store ``item``; returns False when it replaced an unread item (which is counted as dropped)."""
        with self._cond:
            replaced = self._item is not None
            if replaced:
                self.dropped += 1
            self._item = item
            self._cond.notify()
            return not replaced

    def get(self, timeout_s: float) -> T | None:
        """The newest item, or None after ``timeout_s`` or once closed."""
        with self._cond:
            if self._item is None and not self._closed:
                self._cond.wait(timeout_s)
            item, self._item = self._item, None
            return item

    def depth(self) -> int:
        with self._cond:
            return 0 if self._item is None else 1

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()


class BoundedQueue(Generic[T]):
    def __init__(self, capacity: int) -> None:
        if capacity < 1:
            raise ValueError("capacity must be at least 1")
        self._cond = threading.Condition()
        self._items: collections.deque[T] = collections.deque()
        self._capacity = capacity
        self._closed = False
        self.dropped = 0

    def offer(self, item: T) -> bool:
        """Append ``item``; returns False (and counts an overflow) when the queue is full."""
        with self._cond:
            if len(self._items) >= self._capacity:
                self.dropped += 1
                return False
            self._items.append(item)
            self._cond.notify()
            return True

    def get(self, timeout_s: float) -> T | None:
        """The oldest item, or None after ``timeout_s`` or once closed and drained."""
        with self._cond:
            if not self._items and not self._closed:
                self._cond.wait(timeout_s)
            return self._items.popleft() if self._items else None

    def depth(self) -> int:
        with self._cond:
            return len(self._items)

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()
