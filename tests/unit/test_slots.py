"""Slots taken several at a time, first come first served."""

from __future__ import annotations

import asyncio

import pytest

from podium.executor.slots import Slots


async def test_takes_wait_until_enough_slots_are_free_in_order() -> None:
    slots = Slots(4)
    await slots.acquire(3)
    big = asyncio.ensure_future(slots.acquire(3))
    small = asyncio.ensure_future(slots.acquire(1))
    await asyncio.sleep(0)
    assert not big.done()
    assert not small.done()  # one slot is free, but the big take came first
    slots.release(2)
    await asyncio.sleep(0)
    assert big.done()
    assert not small.done()
    slots.release(1)
    await asyncio.sleep(0)
    assert small.done()
    assert (slots.free, slots.busy) == (0, 4)


async def test_a_cancelled_take_gives_back_what_it_was_given_and_lets_others_on() -> None:
    slots = Slots(2)
    await slots.acquire(2)
    waiting = asyncio.ensure_future(slots.acquire(2))
    after = asyncio.ensure_future(slots.acquire(1))
    await asyncio.sleep(0)
    waiting.cancel()
    await asyncio.gather(waiting, return_exceptions=True)
    slots.release(1)
    await asyncio.sleep(0)
    assert after.done()
    assert slots.free == 0


async def test_more_than_there_are_is_refused() -> None:
    with pytest.raises(ValueError, match="cannot take 5 of 4"):
        await Slots(4).acquire(5)
