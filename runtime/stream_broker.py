"""The Redis stream broker that workers and callers share, made to ride out Redis outages.

taskiq-redis's ``RedisStreamBroker`` lets the first lost connection escape ``listen()``: the
receiver's task group fails and the worker child exits, cutting off the passes it was running
(taskiq's process manager then restarts it, and the new child dies in its startup for as long
as Redis is away). Here a lost connection is an outage to wait out: the reader reconnects with
capped exponential backoff and resumes where it was (new messages, then long-idle pending
ones), passes in flight carry on against PostgreSQL, and acks that fail are sent when Redis
is back. A Redis that lost its data (restarted without persistence) comes back without the
stream's consumer group; the reader declares it again.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
from collections.abc import AsyncGenerator, Awaitable, Callable
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import LockError, ResponseError
from taskiq import AckableMessage
from taskiq_redis import RedisStreamBroker

from runtime.reconnect import REDIS_DOWN, Outage

log = logging.getLogger("plait.queue")

_Message = tuple[str, str, bytes]
"""(stream, message id, payload)"""


class StreamBroker(RedisStreamBroker):
    """``RedisStreamBroker`` with the same reading protocol (XREADGROUP for new messages,
    then XAUTOCLAIM under the same shared lock for messages idle past ``idle_timeout``), but
    an unreachable Redis never ends ``listen()`` and never fails an ack or startup."""

    def __init__(self, url: str, **kwargs: Any) -> None:
        super().__init__(url, **kwargs)
        self._group_ready = False
        self._unacked: collections.deque[tuple[str, str]] = collections.deque(maxlen=10_000)
        """Acks that failed while Redis was away, sent once it is back. Bounded: an ack
        dropped from here only means one redelivery, which a pass's lease makes harmless."""

    async def _declare_consumer_group(self) -> None:
        # called by startup(): a worker or caller that starts while Redis is away still
        # starts; listen() declares the group once Redis is back
        try:
            await self._declare()
        except REDIS_DOWN as exc:
            log.warning("Redis is unreachable (%s); the queue is set up when it is back", exc)

    async def _declare(self) -> None:
        await super()._declare_consumer_group()
        self._group_ready = True

    def _ack_generator(self, id: str, queue_name: str) -> Callable[[], Awaitable[None]]:
        async def ack() -> None:
            try:
                async with Redis(connection_pool=self.connection_pool) as conn:
                    await conn.xack(queue_name, self.consumer_group_name, id)
            except REDIS_DOWN as exc:
                log.warning("could not ack message %s (%s); acking it when Redis is back", id, exc)
                self._unacked.append((queue_name, id))

        return ack

    async def listen(self) -> AsyncGenerator[AckableMessage, None]:
        outage = Outage("stream reader", log)
        async with Redis(connection_pool=self.connection_pool) as conn:
            while True:
                for phase in (self._read_new, self._reclaim_idle):
                    try:
                        messages = await phase(conn)
                    except REDIS_DOWN as exc:
                        await asyncio.sleep(outage.failed(exc))
                        break
                    except ResponseError as exc:
                        if not str(exc).startswith("NOGROUP"):
                            raise
                        log.warning(
                            "consumer group %r of stream %r is gone (Redis lost its data?); "
                            "declaring it again",
                            self.consumer_group_name,
                            self.queue_name,
                        )
                        self._group_ready = False
                        break
                    outage.recovered()
                    for stream, msg_id, data in messages:
                        yield AckableMessage(
                            data=data, ack=self._ack_generator(id=msg_id, queue_name=stream)
                        )

    async def _read_new(self, conn: Redis) -> list[_Message]:
        if not self._group_ready:
            await self._declare()
        await self._send_unacked(conn)
        fetched = await conn.xreadgroup(
            self.consumer_group_name,
            self.consumer_name,
            {self.queue_name: ">", **self.additional_streams},  # type: ignore[dict-item]
            block=self.block,
            noack=False,
            count=self.count,
        )
        return [
            (_text(stream), _text(msg_id), msg[b"data"])
            for stream, msg_list in fetched
            for msg_id, msg in msg_list
        ]

    async def _reclaim_idle(self, conn: Redis) -> list[_Message]:
        """Messages pending for longer than ``idle_timeout`` (their consumer died), one
        reader at a time per stream. Unlike taskiq-redis, the lock is released before the
        messages are handed out, so a reader killed while holding messages holds no lock."""
        reclaimed: list[_Message] = []
        for stream in [self.queue_name, *self.additional_streams]:
            lock = conn.lock(
                f"autoclaim:{self.consumer_group_name}:{stream}",
                timeout=self.unacknowledged_lock_timeout,
            )
            if not await lock.acquire(blocking=False):
                continue
            try:
                pending = await conn.xautoclaim(
                    name=stream,
                    groupname=self.consumer_group_name,
                    consumername=self.consumer_name,
                    min_idle_time=self.idle_timeout,
                    count=self.unacknowledged_batch_size,
                )
            finally:
                with contextlib.suppress(LockError, *REDIS_DOWN):
                    await lock.release()
            reclaimed.extend((stream, _text(msg_id), msg[b"data"]) for msg_id, msg in pending[1])
        return reclaimed

    async def _send_unacked(self, conn: Redis) -> None:
        while self._unacked:
            stream, msg_id = self._unacked[0]
            try:
                await conn.xack(stream, self.consumer_group_name, msg_id)
            except ResponseError as exc:  # the stream or group is gone: nothing to ack
                log.debug("dropping the ack of %s: %s", msg_id, exc)
            self._unacked.popleft()


def _text(name: str | bytes) -> str:
    return name.decode() if isinstance(name, bytes) else name
