"""Recognises an uploaded image by its bytes (never its name) and reads its size from the
header, without decoding it: PNG, JPEG and WebP only (SVG can carry scripts)."""

from __future__ import annotations

import struct


class NotAnImage(ValueError):
    pass


def _png(data: bytes) -> tuple[int, int]:
    if len(data) < 24 or data[12:16] != b"IHDR":
        raise NotAnImage("broken PNG header")
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def _jpeg(data: bytes) -> tuple[int, int]:
    i = 2
    while i + 9 < len(data):
        if data[i] != 0xFF:
            raise NotAnImage("broken JPEG marker")
        marker = data[i + 1]
        if marker == 0xFF:  # padding
            i += 1
            continue
        length = struct.unpack(">H", data[i + 2 : i + 4])[0]
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
            height, width = struct.unpack(">HH", data[i + 5 : i + 9])
            return width, height
        if length < 2:
            raise NotAnImage("broken JPEG segment")
        i += 2 + length
    raise NotAnImage("no JPEG frame header")


def _webp(data: bytes) -> tuple[int, int]:
    chunk = data[12:16]
    if chunk == b"VP8X" and len(data) >= 30:
        width = int.from_bytes(data[24:27], "little") + 1
        height = int.from_bytes(data[27:30], "little") + 1
        return width, height
    if chunk == b"VP8L" and len(data) >= 25 and data[20] == 0x2F:
        bits = int.from_bytes(data[21:25], "little")
        return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
    if chunk == b"VP8 " and len(data) >= 30 and data[23:26] == b"\x9d\x01\x2a":
        width, height = struct.unpack("<HH", data[26:30])
        return width & 0x3FFF, height & 0x3FFF
    raise NotAnImage("broken WebP header")


def sniff_image(data: bytes) -> tuple[str, int, int]:
    """(content type, width, height), or NotAnImage."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        kind, (width, height) = "image/png", _png(data)
    elif data.startswith(b"\xff\xd8\xff"):
        kind, (width, height) = "image/jpeg", _jpeg(data)
    elif data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        kind, (width, height) = "image/webp", _webp(data)
    else:
        raise NotAnImage("not a PNG, JPEG or WebP image")
    if width < 1 or height < 1:
        raise NotAnImage("empty image")
    return kind, width, height
