"""One object per event loop: daphne runs one loop per process, tests run many, and asyncio
objects (queues, events, tasks) belong to the loop that made them."""

import asyncio
import weakref
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class PerLoop(Generic[T]):
    """Makes the running loop's object on first use and forgets it with the loop."""

    def __init__(self, make: Callable[[asyncio.AbstractEventLoop], T]) -> None:
        self._make = make
        self._made: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, T] = weakref.WeakKeyDictionary()

    def get(self) -> T:
        loop = asyncio.get_running_loop()
        made = self._made.get(loop)
        if made is None:
            made = self._made[loop] = self._make(loop)
        return made

    def existing(self) -> T | None:
        """The running loop's object if one was made, without making it."""
        return self._made.get(asyncio.get_running_loop())
