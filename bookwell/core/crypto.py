"""Crypto primitives: AES-256-GCM with additional data, HKDF, HMAC (P14).

Only this module touches `cryptography`; everything else asks it to seal and open bytes.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from collections.abc import Iterator
from typing import BinaryIO

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

KEY_BYTES = 32
NONCE_BYTES = 12


class DecryptionError(Exception):
    """Ciphertext that does not open under this key and context. Never answered with garbage."""


def new_key() -> bytes:
    return os.urandom(KEY_BYTES)


def seal(key: bytes, plaintext: bytes, aad: bytes) -> bytes:
    """nonce (96 bits, random) || AES-256-GCM ciphertext and tag."""
    nonce = os.urandom(NONCE_BYTES)
    return nonce + AESGCM(key).encrypt(nonce, plaintext, aad)


def open_sealed(key: bytes, blob: bytes, aad: bytes) -> bytes:
    if len(blob) < NONCE_BYTES + 16:
        raise DecryptionError("ciphertext too short")
    try:
        return AESGCM(key).decrypt(blob[:NONCE_BYTES], blob[NONCE_BYTES:], aad)
    except InvalidTag as exc:
        raise DecryptionError("ciphertext does not match its key or context") from exc


def derive_key(key: bytes, purpose: str, salt: bytes | None = None) -> bytes:
    return HKDF(
        algorithm=hashes.SHA256(), length=KEY_BYTES, salt=salt, info=purpose.encode()
    ).derive(key)


def keyed_hash(key: bytes, message: str) -> str:
    return hmac.new(key, message.encode(), hashlib.sha256).hexdigest()


# --- Sealed streams (files too big to seal in one piece: a clinic's export archive) ---------

STREAM_MAGIC = b"BWS1"
SEGMENT_BYTES = 1 << 20
_HEADER = 5  # flag byte (1: the last segment) and the sealed segment's length (4 bytes)


def _segment_aad(context: bytes, index: int, last: bool) -> bytes:
    # The position and the last-segment flag are sealed in: segments cannot be reordered,
    # dropped or cut off at the end without the stream failing to open.
    return context + b":" + index.to_bytes(8, "big") + (b"\x01" if last else b"\x00")


class SealingWriter:
    """A write-only file object that seals what is written to it, a segment at a time, into
    `sink`; closing it seals the last segment. Not seekable (zipfile streams into it)."""

    def __init__(self, key: bytes, sink: BinaryIO, context: bytes) -> None:
        self._key, self._sink, self._context = key, sink, context
        self._buffer = bytearray()
        self._index = 0
        self.closed = False
        self.plain_bytes = 0
        sink.write(STREAM_MAGIC)

    def writable(self) -> bool:
        return True

    def write(self, data: bytes) -> int:
        if self.closed:
            raise ValueError("write to a closed stream")
        self._buffer += data
        self.plain_bytes += len(data)
        while len(self._buffer) >= SEGMENT_BYTES:
            self._seal(bytes(self._buffer[:SEGMENT_BYTES]), last=False)
            del self._buffer[:SEGMENT_BYTES]
        return len(data)

    def flush(self) -> None:
        self._sink.flush()

    def close(self) -> None:
        if not self.closed:
            self._seal(bytes(self._buffer), last=True)
            self._buffer.clear()
            self.closed = True
            self._sink.flush()

    def _seal(self, plain: bytes, *, last: bool) -> None:
        blob = seal(self._key, plain, _segment_aad(self._context, self._index, last))
        self._sink.write((b"\x01" if last else b"\x00") + len(blob).to_bytes(4, "big") + blob)
        self._index += 1


def open_stream(key: bytes, source: BinaryIO, context: bytes) -> Iterator[bytes]:
    """The plaintext of a SealingWriter's output, a segment at a time. Raises
    DecryptionError on a wrong key or context, or a stream altered, reordered or cut short
    (after the segments that did open were yielded: callers stream, so they must not treat
    what came before as complete until the iterator finishes)."""
    if source.read(len(STREAM_MAGIC)) != STREAM_MAGIC:
        raise DecryptionError("not a sealed stream")
    index = 0
    while True:
        header = source.read(_HEADER)
        if len(header) < _HEADER:
            raise DecryptionError("sealed stream cut short")
        last = header[0] == 1
        size = int.from_bytes(header[1:], "big")
        if size > SEGMENT_BYTES + NONCE_BYTES + 16:
            raise DecryptionError("sealed stream segment too long")
        blob = source.read(size)
        if len(blob) < size:
            raise DecryptionError("sealed stream cut short")
        yield open_sealed(key, blob, _segment_aad(context, index, last))
        index += 1
        if last:
            if source.read(1):
                raise DecryptionError("data after the end of a sealed stream")
            return
