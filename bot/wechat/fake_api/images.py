"""The pictures the fake answers with: QR codes drawn as PNGs, with no imaging library."""

from __future__ import annotations

import struct
import zlib
from functools import cache

import qrcode


@cache
def qr_png(text: str) -> bytes:
    """A PNG of the QR code for ``text``, encoded here so the fake needs no imaging library."""
    code = qrcode.QRCode(border=4)
    code.add_data(text)
    code.make(fit=True)
    return _grey_png(code.get_matrix(), scale=4)


def _grey_png(dark: list[list[bool]], scale: int) -> bytes:
    rows = bytearray()
    for row in dark:
        line = b"\x00" + bytes(0 if cell else 255 for cell in row for _ in range(scale))
        rows += line * scale
    height, width = len(dark) * scale, len(dark[0]) * scale

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(bytes(rows)))
        + chunk(b"IEND", b"")
    )
