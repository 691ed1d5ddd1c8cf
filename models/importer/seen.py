"""Which declaration ids were already imported, in bounded memory: 8 bytes per id, not a Python set.

Ids are kept as 64-bit hashes in a few sorted arrays of doubling size (a log-structured merge): a
lookup is one binary search per level, an insert an occasional merge. Ten million ids take 80 MB; a
Python set of the strings would take over a gigabyte. Two different ids share a 64-bit hash with a
probability of about n²/2⁶⁵ (3e-6 for ten million): such a pair would be reported as a duplicate.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa


def id_hashes(ids: pa.Array) -> np.ndarray:
    """64-bit hashes of string ids (stable across processes and runs)."""
    values = np.asarray(ids.to_numpy(zero_copy_only=False), dtype=object)
    return pd.util.hash_array(values, categorize=False)


class SeenIds:
    """A growing set of id hashes with vectorised membership tests."""

    def __init__(self) -> None:
        """An empty set."""
        self._levels: list[np.ndarray] = []

    def __len__(self) -> int:
        return sum(level.size for level in self._levels)

    def contains(self, hashes: np.ndarray) -> np.ndarray:
        """Per hash: was it added before?"""
        found = np.zeros(hashes.size, dtype=bool)
        for level in self._levels:
            at = np.searchsorted(level, hashes)
            inside = at < level.size
            found[inside] |= level[at[inside]] == hashes[inside]
        return found

    def add(self, hashes: np.ndarray) -> None:
        """Add hashes (callers add only ones not yet contained)."""
        new = np.sort(hashes.astype(np.uint64, copy=False))
        # Merge while the newest level is at least as large as the one below: O(log n) levels.
        while self._levels and self._levels[-1].size <= new.size:
            new = np.sort(np.concatenate((self._levels.pop(), new)), kind="mergesort")
        self._levels.append(new)
