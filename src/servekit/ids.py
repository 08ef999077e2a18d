"""Identifiers for requests and predictions."""

from __future__ import annotations

import random
import time

# NOTE: ids name things, they guard nothing: random bits from a per-process generator are as
# unique as uuid4's and cost a tenth of its system call on the hot path.
_random = random.Random()

_VERSION_7 = 0x7 << 76
_VARIANT = 0b10 << 62


def new_id() -> str:
    """32 hex digits in the layout of a UUID version 7: the time in milliseconds, then 74 random bits.

    In time order, so that the prediction log's primary key grows at its end. With random keys,
    each row of a batch lands on another page of the index: measured on SQLite, an insert cost
    3 us a row with ordered keys at any size of the table, and 9 us at 50,000 rows, 21 us past
    150,000 with random ones.
    """
    rand = _random.getrandbits(74)
    millis = time.time_ns() // 1_000_000
    value = (millis << 80) | _VERSION_7 | ((rand >> 62) << 64) | _VARIANT | (rand & (2**62 - 1))
    return f"{value:032x}"
