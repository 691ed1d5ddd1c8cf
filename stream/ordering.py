"""Timestamp order across co-partitioned input topics, as Kafka Streams does for a task's partitions.

A shipper's events arrive on several topics (one per mainport) plus ``inspection-outcomes``; the
partition with the same number in each topic holds the same shippers. ``poll`` returns whatever each
fetch happened to bring, so one topic can run ahead of another. Shipper history must see a shipper's
events in the order they were published, or the live features would differ from an offline replay.
This buffer releases records in timestamp order within each partition number, holding back while a
topic of that group has nothing buffered yet still has records on the broker (bounded by ``max_wait_s``
so a stalled topic cannot stop the others).
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
        self._blocked_since: dict[int, float] = {}
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
        """Up to ``limit`` records, in timestamp order within each partition number."""
        groups: dict[int, list[TopicPartition]] = {}
        for tp in assigned:
            groups.setdefault(tp.partition, []).append(tp)
        out: list[tuple[TopicPartition, Any]] = []
        now = self._clock()
        for number, tps in sorted(groups.items()):
            heads = [(self._buffers[tp][0].timestamp, i, tp) for i, tp in enumerate(tps) if self._buffers.get(tp)]
            heapq.heapify(heads)
            while heads and len(out) < limit:
                waiting = [tp for tp in tps if not self._buffers.get(tp) and not caught_up(tp)]
                if waiting:
                    since = self._blocked_since.setdefault(number, now)
                    if now - since < self.max_wait_s:
                        break
                else:
                    self._blocked_since.pop(number, None)
                _, i, tp = heapq.heappop(heads)
                buffer = self._buffers[tp]
                out.append((tp, buffer.popleft()))
                if buffer:
                    heapq.heappush(heads, (buffer[0].timestamp, i, tp))
        return out
