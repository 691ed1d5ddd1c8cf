"""A short fingerprint of an ordered feature list, and readable descriptions of how two lists differ.

The model artifact records the hash of the feature names it was trained on; the worker computes the hash
of the names its feature code produces and refuses a model whose hash differs. Order matters: a model
fed the right features in the wrong order scores garbage without any error, so the hash covers order.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

HASH_LENGTH = 16  # hex characters: 64 bits, ample to tell feature lists apart, short enough to read


def feature_hash(names: Sequence[str]) -> str:
    """The first 16 hex characters of sha256 over the names in order, joined by ``"\\n"`` (UTF-8).

    Raises ValueError for an empty name or one holding a newline, since either would make two different
    lists share an encoding (``["a\\nb"]`` and ``["a", "b"]``).
    """
    for name in names:
        if not name or "\n" in name:
            raise ValueError(f"feature names must be non-empty and hold no newline, got {name!r}")
    digest = hashlib.sha256("\n".join(names).encode("utf-8")).hexdigest()
    return digest[:HASH_LENGTH]


def describe_difference(expected: Sequence[str], got: Sequence[str], *, limit: int = 5) -> str | None:
    """``None`` if the lists are equal, else an "expected X, got Y" sentence naming what differs.

    Names the first position where the order differs, and up to ``limit`` missing and extra features,
    so an operator sees at once whether a feature was renamed, added, dropped or moved.
    """
    expected, got = list(expected), list(got)
    if expected == got:
        return None
    parts = [f"expected {len(expected)} features, got {len(got)}"]
    for i, (e, g) in enumerate(zip(expected, got, strict=False)):
        if e != g:
            parts.append(f"first difference at position {i}: expected {e!r}, got {g!r}")
            break
    got_set, expected_set = set(got), set(expected)
    missing = [n for n in expected if n not in got_set]
    extra = [n for n in got if n not in expected_set]
    if missing:
        parts.append(f"missing {_shorten(missing, limit)}")
    if extra:
        parts.append(f"extra {_shorten(extra, limit)}")
    if not missing and not extra and len(expected) == len(got):
        parts.append("same names in a different order")
    return "; ".join(parts)


def _shorten(names: list[str], limit: int) -> str:
    shown = ", ".join(repr(n) for n in names[:limit])
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "")
