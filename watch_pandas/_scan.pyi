"""Types of the optional compiled row scanner (``watch_pandas/_scan.c``; see its header)."""

from typing import Any

def scan_rows(
    batch: bytes | bytearray | memoryview, names: tuple[bytes, ...], kinds: bytes, /
) -> tuple[int, list[Any]] | None:
    """Column buffers of a batch of result rows; None when the batch needs the careful path."""

def temporal_text(values: Any, validity: Any, n: int, layout: bytes, /) -> tuple[bytes, bytes]:
    """The text of a date or datetime answer of scan_rows (int32 offsets, UTF-8 data)."""
