"""Scripted clients of `confab vote-server`'s document dialect, shared by
the process test (tests/processes/vote_test.py) and the benchmark
(bench/vote_compare.py)."""
import asyncio


async def register(port, gate=None):
    """Connects, answers the riddle and reads the menu: (reader, writer).
    `gate` (an asyncio.Semaphore) bounds the handshakes in flight."""
    async def go():
        r, w = await asyncio.open_connection("127.0.0.1", port, limit=1 << 20)
        await r.readuntil(b"\n")
        w.write(b"keyboard\r\n")
        await w.drain()
        while b"[Select an option]" not in await r.readuntil(b"\n"):
            pass
        return r, w
    if gate is None:
        return await go()
    async with gate:
        return await go()
