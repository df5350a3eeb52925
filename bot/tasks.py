"""Ending a background task the way shutdown needs it ended."""

from __future__ import annotations

import asyncio


async def end(task: asyncio.Task[object], *, cancel: bool = True) -> None:
    """Cancel `task` (unless it is to finish what it does) and wait until it has ended.

    Not `with suppress(CancelledError): await task`: that also swallows a cancellation aimed at
    the caller, so a timeout around a shutdown would never fire. A task that failed raises here.
    """
    if cancel:
        task.cancel()
    await asyncio.wait([task])
    if not task.cancelled():
        task.result()
