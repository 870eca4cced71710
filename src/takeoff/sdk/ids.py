"""Event and feedback ids: UUIDv7 (RFC 9562) as 32 hex characters, so ids made later sort later.

A time-ordered id lands at the right edge of the server's unique id index instead of on a random page of it: on
SQLite about a sixth of the index pages written per batch, and a third more events/s on this project's ingest
bench (bench/README.md). The 74 random bits keep ids unique across processes and machines without coordination.
"""
from __future__ import annotations

import os
import time

_MS_MASK = (1 << 48) - 1
_RAND_A_MASK = (1 << 12) - 1
_RAND_B_MASK = (1 << 62) - 1


def span_request_id(trace_id: str, span_id: str, end_unix_ns: int) -> str:
    """The request id the server gives an OTLP span it stores as a usage event: the span's end time in Unix
    milliseconds as 12 hex digits (UUIDv7's time field), then its trace id and span id in hex. The same for a
    resent span (stored once), and time-ordered like `uuid7_hex`: W3C ids are random, and on a table of 1.5 million
    requests random ids took SQLite 2.6x the CPU a batch (bench/README.md). An app links feedback to a traced call
    with it (the span's own end time, trace id and span id)."""
    return f"{min(max(end_unix_ns // 1_000_000, 0), _MS_MASK):012x}{trace_id}{span_id}"


def uuid7_hex(unix_ms: int | None = None) -> str:
    """A version-7 UUID in hex: 48 bits of Unix milliseconds, version 7, 12 random bits, variant 10, 62 random bits."""
    ms = (time.time_ns() // 1_000_000 if unix_ms is None else unix_ms) & _MS_MASK
    rand = int.from_bytes(os.urandom(10), "big")
    value = (ms << 80) | (0x7 << 76) | ((rand >> 64) & _RAND_A_MASK) << 64 | (0b10 << 62) | (rand & _RAND_B_MASK)
    return f"{value:032x}"
