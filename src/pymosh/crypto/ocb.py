"""AES-128-OCB3 session and Mosh's datagram sealing (pure-Python twin on `cryptography`).

Datagram = 8-byte big-endian (direction << 63 | seq) ‖ OCB(ciphertext ‖ 16-byte tag) of
(timestamp16 ‖ timestamp_reply16 ‖ payload); the 12-byte nonce is 4 zero bytes ‖ those 8.
"""

from __future__ import annotations

import struct

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESOCB3

from pymosh.errors import DecodeError, PymoshError

TO_SERVER = 0
TO_CLIENT = 1

RECEIVE_MTU = 2048  # largest datagram accepted
NONCE_LEN = 12
TAG_LEN = 16
SEQ_MASK = (1 << 63) - 1
BLOCK_LIMIT = 1 << 47  # OCB blocks one side may encrypt under one key

_HEAD = struct.Struct(">QHH")  # wire nonce tail, then the two timestamps
_ZERO4 = b"\x00\x00\x00\x00"


class Session:
    """One key's AEAD context, reused for every datagram in both directions."""

    def __init__(self, key: bytes) -> None:
        if len(key) != 16:
            raise ValueError("a session key is 16 bytes")
        self._aead = AESOCB3(bytes(key))
        self.blocks_encrypted = 0

    def encrypt(self, nonce: bytes, plaintext: bytes) -> bytes:
        """ciphertext ‖ tag for a 12-byte nonce, no associated data."""
        if len(nonce) != NONCE_LEN:
            raise ValueError("nonce must be 12 bytes")
        self._count(len(plaintext))
        return self._aead.encrypt(nonce, plaintext, None)

    def decrypt(self, nonce: bytes, sealed: bytes) -> bytes:
        """The plaintext, or DecodeError if `sealed` is short or fails authentication."""
        if len(nonce) != NONCE_LEN:
            raise ValueError("nonce must be 12 bytes")
        if len(sealed) < TAG_LEN:
            raise DecodeError("Ciphertext must contain nonce and tag.")
        try:
            return self._aead.decrypt(nonce, sealed, None)
        except InvalidTag:
            raise DecodeError("Packet failed integrity check.") from None

    def seal_datagram(
        self, direction: int, seq: int, timestamp: int, timestamp_reply: int, payload: bytes
    ) -> bytes:
        """The whole UDP datagram for one Mosh packet (seq is masked to 63 bits)."""
        if not 0 <= seq < (1 << 64):
            raise OverflowError("sequence number out of range")
        head = _HEAD.pack(
            ((direction & 1) << 63) | (seq & SEQ_MASK), timestamp & 0xFFFF, timestamp_reply & 0xFFFF
        )
        plaintext = head[8:] + payload
        self._count(len(plaintext))
        return head[:8] + self._aead.encrypt(_ZERO4 + head[:8], plaintext, None)

    def open_datagram(
        self, datagram: bytes, expected_direction: int
    ) -> tuple[int, int, int, bytes]:
        """(seq, timestamp, timestamp_reply, payload) after Mosh's receive checks."""
        n = len(datagram)
        if n > RECEIVE_MTU:
            raise DecodeError("Received oversize datagram.")
        if n < 8 + TAG_LEN:
            raise DecodeError("Ciphertext must contain nonce and tag.")
        wire_nonce = bytes(datagram[:8])
        try:
            plaintext = self._aead.decrypt(_ZERO4 + wire_nonce, bytes(datagram[8:]), None)
        except InvalidTag:
            raise DecodeError("Packet failed integrity check.") from None
        if len(plaintext) < 4:
            raise DecodeError("Packet too short for timestamps.")
        value, timestamp, timestamp_reply = _HEAD.unpack(wire_nonce + plaintext[:4])
        if value >> 63 != expected_direction:
            raise DecodeError("Packet direction does not match.")
        return value & SEQ_MASK, timestamp, timestamp_reply, plaintext[4:]

    def _count(self, plaintext_len: int) -> None:
        # Mosh refuses (fatally) to encrypt more than 2^47 blocks under one key (§2.5).
        self.blocks_encrypted += (plaintext_len + 15) >> 4
        if self.blocks_encrypted > BLOCK_LIMIT:
            raise PymoshError("Encrypted 2^47 blocks.")
