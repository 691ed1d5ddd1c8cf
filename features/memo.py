"""Bounded memos for values that are a pure function of a few event fields and the frozen tables.

Feature code memoises what recurs (party profiles, per-combination origin and route parts): the values
are the same whether computed or remembered, so a memo changes speed, never a feature. Emptying a full
memo keeps a long-running worker's memory flat however varied the ids it sees.
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import TypeVar

MEMO_ENTRIES = 1 << 16  # generous for a port's working set of ports, HS codes, lanes or parties

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


def remember(memo: dict[K, V], key: K, value: V) -> V:
    """Store ``value`` under ``key`` (emptying ``memo`` first when it holds :data:`MEMO_ENTRIES`); returns it."""
    if len(memo) >= MEMO_ENTRIES:
        memo.clear()
    memo[key] = value
    return value
