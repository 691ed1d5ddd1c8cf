from __future__ import annotations

from typing import NamedTuple

from kafka import TopicPartition

from stream.ordering import OrderedInput


class Rec(NamedTuple):
    offset: int
    timestamp: int


A0, B0, A1 = TopicPartition("manifests.a", 0), TopicPartition("manifests.b", 0), TopicPartition("manifests.a", 1)


def test_records_come_out_in_timestamp_order_across_topics_and_partitions() -> None:
    ordered = OrderedInput()
    ordered.add({A0: [Rec(0, 10), Rec(1, 30)], B0: [Rec(0, 20), Rec(1, 40)], A1: [Rec(0, 5), Rec(1, 35)]})
    out = ordered.take([A0, B0, A1], caught_up=lambda tp: True, limit=100)
    assert [(tp, r.timestamp) for tp, r in out] == [(A1, 5), (A0, 10), (B0, 20), (A0, 30), (A1, 35), (B0, 40)]


def test_holds_back_while_a_sibling_topic_still_has_records_on_the_broker() -> None:
    now = [0.0]
    ordered = OrderedInput(max_wait_s=1.0, clock=lambda: now[0])
    ordered.add({A0: [Rec(0, 10)]})
    assert ordered.take([A0, B0], caught_up=lambda tp: tp != B0, limit=10) == []
    ordered.add({B0: [Rec(0, 5)]})  # the lagging topic delivers an earlier record
    out = ordered.take([A0, B0], caught_up=lambda tp: True, limit=10)
    assert [(tp, r.timestamp) for tp, r in out] == [(B0, 5), (A0, 10)]


def test_a_stalled_topic_blocks_only_for_max_wait() -> None:
    now = [0.0]
    ordered = OrderedInput(max_wait_s=1.0, clock=lambda: now[0])
    ordered.add({A0: [Rec(0, 10)]})
    assert ordered.take([A0, B0], caught_up=lambda tp: False, limit=10) == []
    now[0] = 1.5
    assert [r.timestamp for _, r in ordered.take([A0, B0], caught_up=lambda tp: False, limit=10)] == [10]


def test_limit_and_drop() -> None:
    ordered = OrderedInput()
    ordered.add({A0: [Rec(i, i) for i in range(10)]})
    assert len(ordered.take([A0], caught_up=lambda tp: True, limit=4)) == 4
    assert ordered.size(A0) == 6
    ordered.drop([A0])
    assert ordered.buffered() == 0
