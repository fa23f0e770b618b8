"""A background queue: "summarise all drafts", run by a worker task.

Each job carries the trace of the request that queued it, so its span and
log lines join that request's trace, and the queue reports its depth, the
age of its oldest job and how its jobs end.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from dataclasses import dataclass
from typing import Literal

import hiccup

from .store import Store

__all__ = ["Job", "Jobs"]

Status = Literal["queued", "running", "done", "failed"]


@dataclass
class Job:
    """One summary, as the page polls it."""

    id: str
    status: Status = "queued"
    summary: str | None = None


class Jobs:
    """The queue, its worker and the jobs it has seen."""

    def __init__(self, store: Store, name: str = "summaries") -> None:
        self._store = store
        self._queue: asyncio.Queue[tuple[float, dict[str, object]]] = asyncio.Queue()
        self._metrics = hiccup.queue_metrics(name)
        self._worker: asyncio.Task[None] | None = None
        self._log = hiccup.get_logger("writer.jobs")
        self.jobs: dict[str, Job] = {}

    def enqueue(self) -> Job:
        """Queue a summary of every draft, in the current request's trace."""
        job = Job(uuid.uuid4().hex)
        self.jobs[job.id] = job
        payload = hiccup.inject_trace({"job_id": job.id})
        self._queue.put_nowait((time.time(), payload))
        self._metrics.depth(self._queue.qsize())
        self._log.info("job.queued", job_id=job.id)
        return job

    def start(self) -> None:
        self._worker = asyncio.create_task(self._work(), name="summaries")

    async def stop(self) -> None:
        if self._worker is not None:
            self._worker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._worker

    async def _work(self) -> None:
        while True:
            queued_at, payload = await self._queue.get()
            self._metrics.depth(self._queue.qsize())
            self._metrics.oldest_age(time.time() - queued_at)
            job = self.jobs[str(payload["job_id"])]
            job.status = "running"
            try:
                with (
                    hiccup.continue_trace(payload, "drafts.summarise"),
                    self._metrics.job(),
                ):
                    job.summary = await self._summarise()
                    self._log.info("job.done", job_id=job.id)
            except Exception:
                job.status = "failed"
                self._log.exception("job.failed", job_id=job.id)
            else:
                job.status = "done"
            finally:
                self._metrics.oldest_age(0)

    async def _summarise(self) -> str:
        drafts = await self._store.latest(limit=100)
        if not drafts:
            return "There are no drafts yet."
        titles = ", ".join(str(draft["title"]) for draft in drafts[:5])
        more = f" and {len(drafts) - 5} more" if len(drafts) > 5 else ""
        return f"{len(drafts)} drafts: {titles}{more}."
