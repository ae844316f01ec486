"""The actor between Ray tasks and the driver of `trainlab run --executor ray`: boxes of messages by key
('driver' for the driver's). A module of its own with nothing heavy to import, so the actor's process
starts in a moment (an actor's class is imported by reference in its worker).
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from typing import Any


class Mailbox:
    """The actor between tasks and the driver: boxes of messages by key ('driver' for the driver's)."""

    def __init__(self) -> None:
        self.boxes: dict[str, asyncio.Queue] = defaultdict(asyncio.Queue)

    async def put(self, key: str, message: Any) -> None:
        await self.boxes[key].put(message)

    async def take(self, key: str, timeout: float | None) -> list[Any]:
        """Every message waiting in box `key`, waiting up to `timeout` for the first."""
        box = self.boxes[key]
        try:
            first = await asyncio.wait_for(box.get(), timeout)
        except asyncio.TimeoutError:
            return []
        out = [first]
        while not box.empty():
            out.append(box.get_nowait())
        return out
