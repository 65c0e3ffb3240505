"""Coalescer: callers of one key share a read, but never one that began before they arrived."""

from __future__ import annotations

import anyio
import pytest

from app.core.cancellation import Cancellation
from app.service.coalesce import Coalescer

pytestmark = pytest.mark.anyio


class CountingRead:
    """A read that takes a while and answers with its own sequence number."""

    def __init__(self) -> None:
        self.started = 0
        self.release = anyio.Event()
        self.fail_with: BaseException | None = None

    async def __call__(self, cancel: Cancellation) -> int:
        self.started += 1
        number = self.started
        await self.release.wait()
        if self.fail_with is not None:
            raise self.fail_with
        return number


async def test_callers_arriving_during_a_read_share_the_next_one() -> None:
    coalescer: Coalescer[str, int] = Coalescer()
    read = CountingRead()
    answers: dict[str, int] = {}

    async def call(name: str) -> None:
        answers[name] = await coalescer.run("page", read)

    async with anyio.create_task_group() as tasks:
        tasks.start_soon(call, "first")
        await anyio.wait_all_tasks_blocked()
        for n in range(10):
            tasks.start_soon(call, f"late {n}")
        await anyio.wait_all_tasks_blocked()
        assert read.started == 1  # the late callers wait: the read in flight is too old for them
        read.release.set()
    assert answers["first"] == 1
    # All ten came during read 1, so they share read 2, which began after each of them.
    assert {answers[f"late {n}"] for n in range(10)} == {2}
    assert read.started == 2


async def test_different_keys_are_read_separately() -> None:
    coalescer: Coalescer[str, int] = Coalescer()
    read = CountingRead()
    read.release.set()
    async with anyio.create_task_group() as tasks:
        for key in ("a", "b", "c"):
            tasks.start_soon(coalescer.run, key, read)
    assert read.started == 3


async def test_a_failed_read_fails_its_callers_and_the_next_call_reads_again() -> None:
    coalescer: Coalescer[str, int] = Coalescer()
    read = CountingRead()
    read.fail_with = RuntimeError("database gone")
    failures: list[str] = []

    async def call() -> None:
        try:
            await coalescer.run("page", read)
        except RuntimeError as exc:
            failures.append(str(exc))

    async with anyio.create_task_group() as tasks:
        tasks.start_soon(call)
        await anyio.wait_all_tasks_blocked()
        tasks.start_soon(call)
        tasks.start_soon(call)
        await anyio.wait_all_tasks_blocked()
        read.release.set()
    assert failures == ["database gone"] * 3
    read.fail_with = None
    assert await coalescer.run("page", read) == 3


async def test_a_read_whose_first_caller_leaves_goes_on_for_the_others() -> None:
    coalescer: Coalescer[str, int] = Coalescer()
    gates = [anyio.Event() for _ in range(4)]
    started: list[int] = []
    answers: dict[str, int] = {}

    async def gated_read(cancel: Cancellation) -> int:
        number = len(started) + 1
        started.append(number)
        await gates[number].wait()
        return number

    follower_scope = anyio.CancelScope()

    async def call(name: str) -> None:
        answers[name] = await coalescer.run("page", gated_read)

    async def cancellable_call() -> None:
        with follower_scope:
            await call("cancelled")

    async with anyio.create_task_group() as tasks:
        tasks.start_soon(call, "first")
        await anyio.wait_all_tasks_blocked()
        tasks.start_soon(cancellable_call)
        await anyio.wait_all_tasks_blocked()
        tasks.start_soon(call, "survivor")
        await anyio.wait_all_tasks_blocked()
        gates[1].set()  # read 1 ends; the cancellable caller leads read 2, the survivor joins it
        await anyio.wait_all_tasks_blocked()
        assert started == [1, 2]
        follower_scope.cancel()  # the caller who began read 2 leaves
        await anyio.wait_all_tasks_blocked()
        assert started == [1, 2]  # read 2 goes on for the survivor, nothing is read twice
        gates[2].set()
    assert answers == {"first": 1, "survivor": 2}


async def test_the_next_read_starts_before_the_answers_of_the_last_are_handed_out() -> None:
    coalescer: Coalescer[str, int] = Coalescer()
    gates = [anyio.Event() for _ in range(4)]
    events: list[str] = []

    async def gated_read(cancel: Cancellation) -> int:
        number = sum(event.startswith("read") for event in events) + 1
        events.append(f"read {number} starts")
        await gates[number].wait()
        return number

    async def call(name: str) -> None:
        value = await coalescer.run("page", gated_read)
        events.append(f"{name} gets {value}")

    async with anyio.create_task_group() as tasks:
        tasks.start_soon(call, "a")
        await anyio.wait_all_tasks_blocked()
        tasks.start_soon(call, "b")
        tasks.start_soon(call, "c")
        await anyio.wait_all_tasks_blocked()
        gates[1].set()  # b leads read 2, c joins it
        await anyio.wait_all_tasks_blocked()
        tasks.start_soon(call, "d")  # too late for read 2
        await anyio.wait_all_tasks_blocked()
        gates[2].set()
        await anyio.wait_all_tasks_blocked()
        gates[3].set()
    # d's read began before the callers of read 2 got their answers.
    assert events.index("read 3 starts") < events.index("c gets 2")
    assert events[-1] == "d gets 3"


async def test_a_shared_read_goes_on_while_a_caller_waits_and_stops_when_none_does() -> None:
    coalescer: Coalescer[str, int] = Coalescer()
    gates = [anyio.Event() for _ in range(5)]
    tokens: list[Cancellation] = []
    answers: dict[str, int] = {}

    async def read(cancel: Cancellation) -> int:
        tokens.append(cancel)
        number = len(tokens)
        await gates[number].wait()
        if cancel.cancelled:
            raise RuntimeError("stopped")
        return number

    async def call(name: str, scope: anyio.CancelScope) -> None:
        with scope:
            answers[name] = await coalescer.run("page", read)

    scopes = {name: anyio.CancelScope() for name in ("first", "leader", "follower", "alone")}
    async with anyio.create_task_group() as tasks:
        tasks.start_soon(call, "first", scopes["first"])
        await anyio.wait_all_tasks_blocked()
        tasks.start_soon(call, "leader", scopes["leader"])
        await anyio.wait_all_tasks_blocked()
        tasks.start_soon(call, "follower", scopes["follower"])
        await anyio.wait_all_tasks_blocked()
        gates[1].set()  # read 1 ends; the leader begins read 2, the follower joins it
        await anyio.wait_all_tasks_blocked()
        assert len(tokens) == 2
        scopes["leader"].cancel()  # the caller who began read 2 leaves; the other still waits
        await anyio.wait_all_tasks_blocked()
        assert not tokens[1].cancelled
        gates[2].set()
    assert answers == {"first": 1, "follower": 2}  # read 2 went on for the caller still waiting

    async with anyio.create_task_group() as tasks:
        tasks.start_soon(call, "alone", scopes["alone"])
        await anyio.wait_all_tasks_blocked()
        scopes["alone"].cancel()  # nobody waits for read 3 any more: its token says so
        await anyio.wait_all_tasks_blocked()
        assert tokens[2].cancelled
        gates[3].set()
    assert "alone" not in answers
    gates[4].set()
    assert await coalescer.run("page", read) == 4  # and the next caller reads afresh
