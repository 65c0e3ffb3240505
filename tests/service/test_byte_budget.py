"""The byte budget: what it admits at once, in which order, and what a cancelled wait returns."""

from __future__ import annotations

import anyio
import pytest

from app.service.byte_budget import ByteBudget

pytestmark = pytest.mark.anyio


async def test_shares_wait_until_their_bytes_fit_and_get_in_order() -> None:
    budget = ByteBudget(100)
    order: list[str] = []
    release_first = anyio.Event()

    async def job(name: str, nbytes: int, hold: anyio.Event | None = None) -> None:
        async with budget.share() as share:
            await share.admit(nbytes)
            order.append(name)
            if hold is not None:
                await hold.wait()

    async with anyio.create_task_group() as group:
        group.start_soon(job, "big", 80, release_first)
        await anyio.sleep(0.05)
        group.start_soon(job, "medium", 50)
        await anyio.sleep(0.05)
        group.start_soon(job, "small", 10)  # fits now, but waits behind the medium one
        await anyio.sleep(0.05)
        assert order == ["big"] and budget.used == 80
        release_first.set()
    assert order == ["big", "medium", "small"]
    assert budget.used == 0


async def test_an_answer_larger_than_the_budget_is_admitted_alone() -> None:
    budget = ByteBudget(100)
    async with budget.share() as share:
        await share.admit(1_000)
        await share.admit(5)  # never more than the whole budget, so never waiting on itself
        assert budget.used == 100 == share.held
    assert budget.used == 0


async def test_a_cancelled_wait_takes_nothing_and_lets_the_next_in() -> None:
    budget = ByteBudget(100)
    admitted: list[str] = []
    async with budget.share() as holder:
        await holder.admit(90)
        with anyio.move_on_after(0.05):
            async with budget.share() as leaving:
                await leaving.admit(50)
        async with budget.share() as small:
            await small.admit(10)
            admitted.append("small")
            assert budget.used == 100
    assert admitted == ["small"]
    assert budget.used == 0
