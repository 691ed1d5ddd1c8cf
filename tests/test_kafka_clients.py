"""Kafka client helpers that need no broker: the batch partitioner must agree with the client's own."""

from __future__ import annotations

import random

from kafka.partitioner.default import murmur2 as client_murmur2

from stream.kafka_clients import default_partitions, murmur2


def test_vectorised_murmur2_and_partitions_equal_the_clients_for_every_key_length() -> None:
    rng = random.Random(3)
    keys = [rng.randbytes(rng.randint(0, 41)) for _ in range(3_000)] + [f"MSCU{i:07d}".encode() for i in range(500)]
    assert [int(h) for h in murmur2(keys)] == [client_murmur2(k) & 0xFFFFFFFF for k in keys]
    for partitions in ([0, 1, 2, 3, 4, 5], [2, 0, 1], [0]):
        ordered = sorted(partitions)
        expected = [ordered[(client_murmur2(k) & 0x7FFFFFFF) % len(ordered)] for k in keys]
        assert default_partitions(keys, partitions) == expected
    assert default_partitions([], [0, 1]) == []
