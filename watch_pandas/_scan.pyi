# Types of the optional compiled row scanner (_scan.c; its header comment has the contract).
from typing import Any

def scan_rows(
    batch: bytes | bytearray | memoryview, names: tuple[bytes, ...], kinds: bytes, /
) -> tuple[int, list[Any]] | None: ...
