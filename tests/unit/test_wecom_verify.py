"""WeCom callback crypto against the official Tencent sample vectors and wechatpy as an oracle.

Vectors W1–W7 are PROTOCOLS.md §6.3 (W2/W3 are the official WXBizMsgCrypt samples). wechatpy's
`WeChatCrypto`/`PrpCrypto` must decrypt what we encrypt and we must decrypt what it encrypts;
our padding check must be stricter than wechatpy's, which trusts the last byte.
"""

from __future__ import annotations

import base64
import struct

import pytest
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from hypothesis import given, settings
from hypothesis import strategies as st
from wechatpy.enterprise.crypto import PrpCrypto, WeChatCrypto
from wechatpy.exceptions import InvalidSignatureException

from aibot.channels.wecom.verify import CryptoError, WecomCrypto, aes_key, pad, unpad
from tests.support.wecom_vectors import (
    CORP,
    KEY,
    TOKEN,
    W2_ECHOSTR,
    W3_ENCRYPT,
    W3_PLAIN,
    W5_ENCRYPT,
    W5_PLAIN,
    W7_ENCRYPT,
    W7_PLAIN,
)

ours = WecomCrypto(TOKEN, KEY, CORP)
theirs = WeChatCrypto(TOKEN, KEY, CORP)
KEY_BYTES = aes_key(KEY)


def test_w1_key_derivation() -> None:
    assert KEY_BYTES.hex() == "8d69989bbaabe67328014c194631ad0719b3dca035b64023df292447aab60760"


def test_w2_official_url_verification() -> None:
    ours.verify("5c45ff5e21c57e6ad56bac8758b79b1d9ac89fd3", "1409659589", "263014780", W2_ECHOSTR)
    assert ours.decrypt(W2_ECHOSTR) == "1616140317555161061"


def test_w3_w4_official_message_and_signature() -> None:
    assert (
        ours.sign("1409659813", "1372623149", W3_ENCRYPT)
        == "477715d11cdb4164915debcba66cb864d751f3e6"
    )
    ours.verify("477715d11cdb4164915debcba66cb864d751f3e6", "1409659813", "1372623149", W3_ENCRYPT)
    assert ours.decrypt(W3_ENCRYPT) == W3_PLAIN


def test_w5_w7_deterministic_encryption() -> None:
    w5 = ours.encrypt(W5_PLAIN, b"aaaabbbbccccdddd")
    assert w5 == W5_ENCRYPT
    assert ours.sign("1700000000", "1234567890", w5) == "5249daeba3c571c115fb2cb46965d0bddabec194"
    w7 = WecomCrypto(TOKEN, KEY, CORP).encrypt(W7_PLAIN, b"0123456789abcdef")
    assert w7 == W7_ENCRYPT
    assert ours.sign("1700000001", "987654321", w7) == "691951e78b1c8f7d598e7d945512633621f8594a"


@settings(max_examples=60, deadline=None)
@given(st.text(min_size=1, max_size=3000))
def test_wechatpy_reads_what_we_write_and_we_read_what_it_writes(message: str) -> None:
    encrypted = ours.encrypt(message)
    signature = ours.sign("1700000000", "nonce", encrypted)
    assert theirs.check_signature(signature, "1700000000", "nonce", encrypted) == message
    assert PrpCrypto(KEY_BYTES).decrypt(encrypted, CORP) == message

    theirs_encrypted = PrpCrypto(KEY_BYTES).encrypt(message, CORP).decode()
    assert ours.decrypt(theirs_encrypted) == message


def test_fresh_randomness_every_time() -> None:
    assert ours.encrypt("same") != ours.encrypt("same")


def test_signature_checked_in_both_directions() -> None:
    encrypted = ours.encrypt("x")
    good = ours.sign("1", "2", encrypted)
    with pytest.raises(InvalidSignatureException):
        theirs.check_signature(good, "1", "3", encrypted)
    for wrong in ("0" * 40, good[:-1], "", good + "0"):
        with pytest.raises(CryptoError) as caught:
            ours.verify(wrong, "1", "2", encrypted)
        assert caught.value.problem == "signature"
    ours.verify(good.upper(), "1", "2", encrypted)  # hex case does not matter


def test_padding_is_to_32_bytes_and_strict() -> None:
    assert len(pad(b"")) == 32 and pad(b"")[-1] == 32
    assert len(pad(b"x" * 31)) == 32 and len(pad(b"x" * 32)) == 64
    for length in range(0, 100):
        assert unpad(pad(b"y" * length)) == b"y" * length
    bad = [
        b"",
        b"x" * 31 + b"\x00",
        b"x" * 31 + b"\x21",
        b"x" * 28 + b"\x03\x04\x04\x04",
        b"x" * 12 + b"\x04" * 4,
    ]  # whole 16-byte blocks (Feishu's padding) are not WeCom's
    for block in bad:
        with pytest.raises(CryptoError):
            unpad(block)


def _raw_encrypt(plain: bytes) -> str:
    encryptor = Cipher(algorithms.AES(KEY_BYTES), modes.CBC(KEY_BYTES[:16])).encryptor()
    return base64.b64encode(encryptor.update(plain) + encryptor.finalize()).decode()


def test_tampered_ciphertexts_are_refused_where_wechatpy_is_lax() -> None:
    body = b"r" * 16 + struct.pack(">I", 5) + b"hello" + CORP.encode()
    # Pad bytes that are not all equal: wechatpy slices by the last byte and accepts it.
    lax = _raw_encrypt(body + b"\x00" * (63 - len(body)) + bytes([64 - len(body)]))
    assert PrpCrypto(KEY_BYTES).decrypt(lax, CORP) == "hello"
    with pytest.raises(CryptoError) as caught:
        ours.decrypt(lax)
    assert caught.value.problem == "decrypt"
    # A declared length running past the end.
    long = b"r" * 16 + struct.pack(">I", 4000) + b"hello" + CORP.encode()
    with pytest.raises(CryptoError):
        ours.decrypt(_raw_encrypt(pad(long)))
    for junk in (
        "",
        "not base64!",
        base64.b64encode(b"x" * 17).decode(),
        base64.b64encode(b"x" * 16).decode(),
    ):
        with pytest.raises(CryptoError):
            ours.decrypt(junk)


def test_receiveid_must_be_the_corp_id() -> None:
    other = PrpCrypto(KEY_BYTES).encrypt("hi", "wwOTHERCORP").decode()
    with pytest.raises(CryptoError) as caught:
        ours.decrypt(other)
    assert (caught.value.problem, caught.value.received_id) == ("receiveid", "wwOTHERCORP")
    robot = PrpCrypto(KEY_BYTES).encrypt("hi", "").decode()  # intelligent robots use ""
    with pytest.raises(CryptoError):
        ours.decrypt(robot)


def test_wrong_key_fails_as_a_decrypt_problem() -> None:
    other = WecomCrypto(TOKEN, "a" * 43, CORP)
    with pytest.raises(CryptoError) as caught:
        other.decrypt(ours.encrypt("secret message", b"0" * 16))
    assert caught.value.problem == "decrypt"
