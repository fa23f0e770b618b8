// The "Jobs" section: start a summary of every draft, then follow the job
// until it ends.

import { text } from "./copy";
import { byId } from "./dom";
import { perform, type Section, type Session } from "./setup";

const POLL_INTERVAL_MS = 500;

/** A summary job, as GET /api/jobs/{job_id} describes it. */
interface Job {
  readonly status: "queued" | "running" | "done" | "failed";
  readonly summary: string | null;
}

/** Wire the section up; `now` returns the page's current session. */
export function mountJobs(now: () => Session): Section {
  const button = byId("summarise", HTMLButtonElement);
  const status = byId("job-status", HTMLElement);
  const summary = byId("job-summary", HTMLElement);
  let job: Job | undefined;

  function localize(): void {
    status.textContent = job === undefined ? "" : text(now().locale, `job.${job.status}`);
    status.dataset["status"] = job?.status ?? "";
    summary.textContent = job?.summary ?? "";
  }

  function follow(next: Job): void {
    job = next;
    button.setAttribute("aria-disabled", String(!hasEnded(next)));
    localize();
  }

  async function summarise(): Promise<void> {
    if (job !== undefined && !hasEnded(job)) {
      return;
    }
    follow({ status: "queued", summary: null });
    try {
      const started = await now().client.json<{ job_id: string }>("/api/jobs/summarise", {
        method: "POST",
      });
      const url = `/api/jobs/${encodeURIComponent(started.job_id)}`;
      while (!hasEnded(job)) {
        await new Promise((resolve) => setTimeout(resolve, POLL_INTERVAL_MS));
        follow(await now().client.json<Job>(url));
      }
    } catch (error: unknown) {
      // The job may still be running, but nobody follows it any more: let
      // the user start another.
      job = undefined;
      button.setAttribute("aria-disabled", "false");
      localize();
      throw error;
    }
  }

  button.addEventListener("click", () => {
    void perform(summarise, { locale: now().locale });
  });

  return { localize };
}

function hasEnded(job: Job | undefined): boolean {
  return job?.status === "done" || job?.status === "failed";
}
