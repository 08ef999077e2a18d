"""Identifiers: 32 hex digits, unique, in time order (the prediction log's key grows at its end)."""

from __future__ import annotations

import time
import uuid

from servekit.ids import new_id


def test_ids_are_version_7_uuids_in_hex() -> None:
    value = uuid.UUID(hex=new_id())
    assert (value.version, value.variant) == (7, uuid.RFC_4122)
    assert abs((value.int >> 80) - time.time() * 1000) < 5_000  # milliseconds since the epoch


def test_ids_are_unique_and_later_ones_sort_after() -> None:
    first = [new_id() for _ in range(10_000)]
    time.sleep(0.002)
    later = new_id()
    assert len(set(first)) == len(first)
    assert all(len(i) == 32 and int(i, 16) >= 0 for i in first)
    assert later > max(first)
