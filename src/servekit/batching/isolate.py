"""Running one batch so that a bad row fails alone: shared by the in-process batcher and the worker."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from servekit.exceptions import PredictionError
from servekit.runtimes.base import Row, RowOutput

RunBatch = Callable[[list[Row]], Awaitable[list[RowOutput]]]


async def run_isolated(
    run_batch: RunBatch, rows: list[Row], wanted: Callable[[int], bool] = lambda i: True
) -> list[RowOutput | PredictionError | None]:
    """Run ``rows`` as one model call; if the model raises, retry them one at a time.

    Each row gets its output or its own PredictionError. In the one-by-one retry, rows that
    ``wanted(index)`` declines (their caller has gone, say) are skipped and get None.
    """
    try:
        return list(await run_batch(rows))
    except PredictionError as error:
        if len(rows) == 1:
            return [error]
    results: list[RowOutput | PredictionError | None] = []
    for index, row in enumerate(rows):
        if not wanted(index):
            results.append(None)
            continue
        try:
            [output] = await run_batch([row])
        except PredictionError as error:
            results.append(error)
        else:
            results.append(output)
    return results
