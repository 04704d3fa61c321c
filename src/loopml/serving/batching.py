"""Adaptive batching: concurrent requests for one model version become one ``predict`` call.

Requests queue up while a batch is being predicted; the next batch takes what has queued,
up to ``max_rows`` rows (rows, not requests), waiting at most ``max_latency_ms`` for more.
Each request gets back the slice of the batch's outputs that belongs to its rows. At most one
batch per model version is predicted at a time, off the event loop. A request with more rows
than ``max_rows`` is predicted alone. If a combined batch fails, each of its requests is
predicted alone, so one bad request fails only itself.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import Executor
from dataclasses import dataclass
from typing import Any

from loopml.serving.validation import Features

__all__ = ["Batcher", "Prediction"]

# (outputs of the whole batch, first row of this request, row after its last)
Prediction = tuple[dict[str, Any], int, int]


@dataclass
class _Pending:
    features: Features
    layout: tuple[Any, ...]
    future: asyncio.Future[Prediction]


class Batcher:
    """Predicts for one model version, batching concurrent requests when ``max_rows > 1``.

    Args:
        predict: the model's predict on prepared features (runs in ``executor``).
        on_batch: told the row count of every ``predict`` call made.
    """

    def __init__(
        self,
        predict: Callable[[Features], dict[str, Any]],
        executor: Executor,
        max_rows: int,
        max_latency_ms: float,
        on_batch: Callable[[int], None],
    ) -> None:
        self._predict = predict
        self._executor = executor
        self.max_rows = max_rows
        self._max_wait = max_latency_ms / 1000
        self._on_batch = on_batch
        self._queue: asyncio.Queue[_Pending | None] | None = None
        self._task: asyncio.Task[None] | None = None
        self._carry: _Pending | None = None
        self._closed = False

    async def predict(self, features: Features) -> Prediction:
        """The outputs for one request's rows (raises what the model raised)."""
        loop = asyncio.get_running_loop()
        if self.max_rows <= 1 or features.rows >= self.max_rows or self._closed:
            outputs = await loop.run_in_executor(self._executor, self._predict, features)
            self._on_batch(features.rows)
            return outputs, 0, features.rows
        if self._queue is None:
            self._queue = asyncio.Queue()
            self._task = loop.create_task(self._run(), name="loopml-batcher")
        future: asyncio.Future[Prediction] = loop.create_future()
        self._queue.put_nowait(_Pending(features, features.layout(), future))
        return await future

    def close(self) -> None:
        """Finish what is queued, then stop (the version was swapped out)."""
        self._closed = True
        if self._queue is not None:
            self._queue.put_nowait(None)

    async def _run(self) -> None:
        assert self._queue is not None
        queue = self._queue
        loop = asyncio.get_running_loop()
        while True:
            first = self._carry if self._carry is not None else await queue.get()
            self._carry = None
            if first is None:
                if queue.empty():
                    return
                continue
            items = [first]
            rows = first.features.rows
            deadline = loop.time() + self._max_wait
            while rows < self.max_rows:
                if queue.empty():
                    remaining = deadline - loop.time()
                    if remaining <= 0:
                        break
                    try:
                        item = await asyncio.wait_for(queue.get(), remaining)
                    except TimeoutError:
                        break
                else:
                    item = queue.get_nowait()
                if item is None:
                    queue.put_nowait(None)  # handle the stop after this batch
                    break
                if rows + item.features.rows > self.max_rows or item.layout != first.layout:
                    self._carry = item
                    break
                items.append(item)
                rows += item.features.rows
            try:
                await self._dispatch(items)
            except Exception as exc:  # never leave a request waiting on a dead batcher
                for item in items:
                    _fail(item, exc)

    async def _dispatch(self, items: list[_Pending]) -> None:
        loop = asyncio.get_running_loop()
        batch = Features.concat([i.features for i in items])
        try:
            outputs = await loop.run_in_executor(self._executor, self._predict, batch)
        except Exception as exc:
            if len(items) == 1:
                _fail(items[0], exc)
                return
            for item in items:  # find the request that broke the batch
                try:
                    alone = await loop.run_in_executor(self._executor, self._predict, item.features)
                except Exception as single:
                    _fail(item, single)
                else:
                    self._on_batch(item.features.rows)
                    _done(item, (alone, 0, item.features.rows))
            return
        self._on_batch(batch.rows)
        start = 0
        for item in items:
            stop = start + item.features.rows
            _done(item, (outputs, start, stop))
            start = stop


def _done(item: _Pending, result: Prediction) -> None:
    if not item.future.done():  # the client may have gone away
        item.future.set_result(result)


def _fail(item: _Pending, exc: Exception) -> None:
    if not item.future.done():
        item.future.set_exception(exc)
