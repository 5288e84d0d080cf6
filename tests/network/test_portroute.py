"""The shared port's routing core: datagrams go to the session whose key opens them."""

from __future__ import annotations

import os

import pytest

from pymosh.crypto import TO_CLIENT, TO_SERVER
from pymosh.network.portroute import Router

A = ("10.0.0.1", 5000)
B = ("10.0.0.2", 6000)


@pytest.fixture
def keys():
    return [os.urandom(16) for _ in range(5)]


@pytest.fixture
def router(crypto_impl, keys):
    r = Router(crypto_impl.Session)
    for i, key in enumerate(keys):
        r.add(i, key)
    return r


def sealed(crypto_impl, key, seq=1, direction=TO_SERVER, payload=b"x" * 40):
    return crypto_impl.Session(key).seal_datagram(direction, seq, 100, 0xFFFF, payload)


def test_each_datagram_reaches_the_session_whose_key_opens_it(router, keys, crypto_impl):
    for i, key in enumerate(keys):
        assert router.route(sealed(crypto_impl, key), A) == i


def test_known_address_costs_one_trial_a_new_one_at_most_one_per_session(router, keys, crypto_impl):
    router.route(sealed(crypto_impl, keys[3]), A)
    router.trials = 0
    assert router.route(sealed(crypto_impl, keys[3], seq=2), A) == 3
    assert router.trials == 1
    router.trials = 0  # roam: same session, new address
    assert router.route(sealed(crypto_impl, keys[3], seq=3), B) == 3
    assert router.trials <= len(keys)
    router.trials = 0
    assert router.route(sealed(crypto_impl, keys[3], seq=4), B) == 3
    assert router.trials == 1


def test_forged_garbage_and_wrong_direction_reach_nobody(router, keys, crypto_impl):
    forged = bytearray(sealed(crypto_impl, keys[0]))
    forged[12] ^= 1
    assert router.route(bytes(forged), A) is None
    assert router.trials <= len(keys)  # at most one trial per live session
    router.trials = 0
    assert router.route(b"\x01" + os.urandom(99), A) is None  # direction bit clear
    assert router.trials == len(keys)
    router.trials = 0
    # no trial at all for what is too short, oversize or marked client-bound
    assert router.route(b"\0" * 10, A) is None
    assert router.route(b"\0" * 3000, A) is None
    assert router.route(sealed(crypto_impl, keys[0], direction=TO_CLIENT), A) is None
    assert router.trials == 0
    # an address hint does not let a forgery in either
    router.route(sealed(crypto_impl, keys[1]), A)
    assert router.route(bytes(forged), A) is None


def test_rekey_routes_the_new_key_and_refuses_the_old(router, keys, crypto_impl):
    new = os.urandom(16)
    router.rekey(2, new)
    assert router.route(sealed(crypto_impl, keys[2]), A) is None
    assert router.route(sealed(crypto_impl, new), A) == 2


def test_removed_session_gets_nothing_and_forgets_its_addresses(router, keys, crypto_impl):
    router.route(sealed(crypto_impl, keys[4]), A)
    router.remove(4)
    assert 4 not in router and len(router) == 4
    assert router.route(sealed(crypto_impl, keys[4]), A) is None
    assert router._hint == {}
