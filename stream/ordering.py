"""Timestamp order across co-partitioned input topics, as Kafka Streams does for a task's partitions.

A shipper's events arrive on several topics (one per mainport) plus ``inspection-outcomes``; the
partition with the same number in each topic holds the same shippers. ``poll`` returns whatever each
fetch happened to bring, so one topic can run ahead of another. Shipper history must see a shipper's
events in the order they were published, or the live features would differ from an offline replay.
This buffer releases records in timestamp order across every partition the worker owns, holding back
while a partition has nothing buffered yet still has records on the broker (bounded by ``max_wait_s`` so
a stalled partition cannot stop the others). The buffer stays bounded without pausing partitions: each
poll returns at most one batch, and a hold-back lasts at most ``max_wait_s``. Ordering across *all*
owned partitions, not only within a partition number, also gives the selection policy a monotone
event-time stream for its per-day rates.
"""

from __future__ import annotations

import heapq
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from kafka import TopicPartition


class OrderedInput:
    """Buffers polled records and hands them out in per-partition-number timestamp order."""

    def __init__(self, max_wait_s: float = 1.0, clock: Callable[[], float] = time.monotonic) -> None:
        self._buffers: dict[TopicPartition, deque[Any]] = {}
        self._blocked_since: float | None = None
        self.max_wait_s = max_wait_s
        self._clock = clock

    def add(self, batch: Mapping[TopicPartition, Sequence[Any]]) -> None:
        for tp, records in batch.items():
            self._buffers.setdefault(tp, deque()).extend(records)

    def size(self, tp: TopicPartition) -> int:
        buffer = self._buffers.get(tp)
        return len(buffer) if buffer else 0

    def buffered(self) -> int:
        return sum(len(b) for b in self._buffers.values())

    def drop(self, tps: Iterable[TopicPartition]) -> None:
        """Forget revoked partitions: their records were not committed and go to the new owner."""
        for tp in tps:
            self._buffers.pop(tp, None)

    def take(self, assigned: Iterable[TopicPartition], caught_up: Callable[[TopicPartition], bool],
             limit: int) -> list[tuple[TopicPartition, Any]]:
        """Up to ``limit`` records in timestamp order across every assigned partition.

        Holds back while an assigned partition has nothing buffered but still has records on the broker,
        for at most ``max_wait_s``: the record it will deliver may be older than every buffered one.
        """
        tps = list(assigned)
        heads = [(self._buffers[tp][0].timestamp, i, tp) for i, tp in enumerate(tps) if self._buffers.get(tp)]
        heapq.heapify(heads)
        # Which partitions hold the rest back is worked out once, then updated only when a buffer runs dry:
        # asking the client for positions per record would cost more than the records.
        waiting = {tp for tp in tps if not self._buffers.get(tp) and not caught_up(tp)}
        out: list[tuple[TopicPartition, Any]] = []
        now = self._clock()
        while heads and len(out) < limit:
            if waiting:
                if self._blocked_since is None:
                    self._blocked_since = now
                if now - self._blocked_since < self.max_wait_s:
                    break
            else:
                self._blocked_since = None
            _, i, tp = heapq.heappop(heads)
            buffer = self._buffers[tp]
            out.append((tp, buffer.popleft()))
            if buffer:
                heapq.heappush(heads, (buffer[0].timestamp, i, tp))
            elif not caught_up(tp):
                waiting.add(tp)
        return out
