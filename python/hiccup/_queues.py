"""Queue metrics: how much work waits, for how long, and how the jobs end.

emails = hiccup.queue_metrics("emails")
emails.depth(len(pending))
emails.oldest_age(time.time() - pending[0].enqueued_at)
with emails.job():
    send(pending.pop(0))
"""

from __future__ import annotations

import time
from types import TracebackType
from typing import Final, Literal, get_args

from prometheus_client import Counter, Gauge, Histogram

from ._metrics import Metrics, default_metrics

__all__ = ["JOB_OUTCOMES", "Job", "JobOutcome", "QueueMetrics", "queue_metrics"]

JobOutcome = Literal["succeeded", "failed", "retried", "dropped"]
#: Every outcome a job can have; each has its series from the start, so a
#: rate of failures is 0 rather than missing before the first one.
JOB_OUTCOMES: Final[tuple[JobOutcome, ...]] = get_args(JobOutcome)


class QueueMetrics:
    """The gauges and job counters of one queue, with its label children."""

    __slots__ = ("_age", "_depth", "_duration", "_outcomes", "name")

    def __init__(self, name: str, metrics: Metrics) -> None:
        self.name = name
        self._depth: Gauge = metrics.queue_depth.labels(name)
        self._age: Gauge = metrics.queue_oldest_age.labels(name)
        self._duration: Histogram = metrics.queue_job_duration.labels(name)
        self._outcomes: dict[str, Counter] = {
            outcome: metrics.queue_jobs.labels(name, outcome)
            for outcome in JOB_OUTCOMES
        }

    def depth(self, messages: int) -> None:
        """Set how many messages wait in the queue now."""
        self._depth.set(messages)

    def oldest_age(self, seconds: float) -> None:
        """Set how long the oldest waiting message has waited; 0 when none does."""
        self._age.set(seconds)

    def job(self) -> Job:
        """Return a context manager that times one job and counts its outcome."""
        return Job(self)

    def _record(self, outcome: str, duration: float) -> None:
        self._outcomes[outcome].inc()
        self._duration.observe(duration)


class Job:
    """One job taken from a queue, timed by ``with`` or ``async with``.

    It succeeds when the block ends and fails when it raises, unless
    ``mark`` said otherwise first: a job put back for later is ``retried``,
    one whose caller had given up is ``dropped``.
    """

    __slots__ = ("_outcome", "_queue", "_started")

    def __init__(self, queue: QueueMetrics) -> None:
        self._queue = queue
        self._started = 0.0
        self._outcome: JobOutcome | None = None

    def mark(self, outcome: JobOutcome) -> None:
        """Say how the job ended, whatever the block does next.

        Raises:
            ValueError: ``outcome`` is not one of ``JOB_OUTCOMES``.
        """
        if outcome not in JOB_OUTCOMES:
            raise ValueError(
                f"job outcome {outcome!r} is not one of {', '.join(JOB_OUTCOMES)}"
            )
        self._outcome = outcome

    def __enter__(self) -> Job:
        self._started = time.perf_counter()
        self._outcome = None

        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        outcome = self._outcome or ("succeeded" if exc is None else "failed")
        self._queue._record(outcome, time.perf_counter() - self._started)

    async def __aenter__(self) -> Job:
        return self.__enter__()

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.__exit__(kind, exc, traceback)


def queue_metrics(name: str, *, metrics: Metrics | None = None) -> QueueMetrics:
    """Return the metrics of the queue called ``name``.

    Args:
        name: The queue's name, from the code; it is a label.
        metrics: Where to record; the default metrics when not given.
    """
    return QueueMetrics(name, metrics or default_metrics())
