from __future__ import annotations

import asyncio

import pytest

from hiccup._metrics import Metrics
from hiccup._queues import JOB_OUTCOMES, QueueMetrics, queue_metrics


@pytest.fixture
def metrics() -> Metrics:
    return Metrics()


@pytest.fixture
def emails(metrics: Metrics) -> QueueMetrics:
    return queue_metrics("emails", metrics=metrics)


def jobs(metrics: Metrics, outcome: str) -> float | None:
    return metrics.registry.get_sample_value(
        "hiccup_queue_jobs_total", {"queue": "emails", "outcome": outcome}
    )


def durations(metrics: Metrics) -> float | None:
    return metrics.registry.get_sample_value(
        "hiccup_queue_job_duration_seconds_count", {"queue": "emails"}
    )


def test_depth_and_oldest_age_are_gauges(
    metrics: Metrics, emails: QueueMetrics
) -> None:
    emails.depth(12)
    emails.oldest_age(3.5)
    emails.depth(4)

    sample = metrics.registry.get_sample_value
    assert sample("hiccup_queue_depth", {"queue": "emails"}) == 4
    assert sample("hiccup_queue_oldest_message_age_seconds", {"queue": "emails"}) == 3.5


def test_every_outcome_starts_at_zero(metrics: Metrics, emails: QueueMetrics) -> None:
    assert {outcome: jobs(metrics, outcome) for outcome in JOB_OUTCOMES} == {
        "succeeded": 0,
        "failed": 0,
        "retried": 0,
        "dropped": 0,
    }


def test_a_job_that_ends_succeeds(metrics: Metrics, emails: QueueMetrics) -> None:
    with emails.job():
        pass

    assert (jobs(metrics, "succeeded"), durations(metrics)) == (1, 1)


def test_a_job_that_raises_fails(metrics: Metrics, emails: QueueMetrics) -> None:
    with pytest.raises(OSError, match="smtp"), emails.job():
        raise OSError("smtp")

    assert (jobs(metrics, "failed"), jobs(metrics, "succeeded")) == (1, 0)
    assert durations(metrics) == 1


@pytest.mark.parametrize("outcome", ["retried", "dropped"])
def test_a_marked_outcome_wins_over_the_blocks_end(
    metrics: Metrics, emails: QueueMetrics, outcome: str
) -> None:
    def work() -> None:
        with emails.job() as job:
            job.mark(outcome)  # type: ignore[arg-type]
            raise TimeoutError

    with pytest.raises(TimeoutError):
        work()

    assert (jobs(metrics, outcome), jobs(metrics, "failed")) == (1, 0)


def test_an_async_job_is_timed(metrics: Metrics, emails: QueueMetrics) -> None:
    async def work() -> None:
        async with emails.job():
            await asyncio.sleep(0)

    asyncio.run(work())

    assert jobs(metrics, "succeeded") == 1


def test_an_unknown_outcome_is_refused(emails: QueueMetrics) -> None:
    with emails.job() as job, pytest.raises(ValueError, match="'lost' is not one of"):
        job.mark("lost")  # type: ignore[arg-type]


def test_queues_are_labelled_apart(metrics: Metrics, emails: QueueMetrics) -> None:
    summaries = queue_metrics("summaries", metrics=metrics)

    with summaries.job():
        pass

    assert jobs(metrics, "succeeded") == 0
    assert metrics.registry.get_sample_value(
        "hiccup_queue_jobs_total", {"queue": "summaries", "outcome": "succeeded"}
    ) == pytest.approx(1)
