// JobList against a mocked IPC: what it shows, what it sends, and how it shows refusals.
import { fireEvent, render, screen } from "@testing-library/svelte";
import { describe, expect, it } from "vitest";
import { job } from "../test-fixtures";
import JobList from "../jobs/JobList.svelte";

import { withJobs } from "../test-host";

describe("JobList", () => {
  it("shows each job's codename, state, agent, changes and queue position, and filters", async () => {
    const app = withJobs(
      job({ id: "01a", codename: "brave-otter", state: "completed", insertions: 12, deletions: 3 }),
      job({ id: "01b", codename: "calm-heron", state: "queued", started_at: null, ended_at: null, insertions: null, deletions: null }),
      job({ id: "01c", codename: "keen-mole", state: "queued", started_at: null, ended_at: null, insertions: null, deletions: null, repo: "/other" }),
    );
    render(JobList, { app });
    const rows = () => screen.getAllByTestId("job-row");
    expect(rows().map((r) => r.dataset.codename)).toEqual(["keen-mole", "calm-heron", "brave-otter"]);
    const otter = rows()[2];
    expect(otter.textContent).toContain("completed");
    expect(otter.textContent).toContain("+12");
    expect(otter.textContent).toContain("−3");
    expect(rows()[1].textContent).toContain("#1");
    expect(rows()[0].textContent).toContain("#2");

    await fireEvent.change(screen.getByTestId("filter-state"), { target: { value: "review" } });
    expect(rows().map((r) => r.dataset.codename)).toEqual(["brave-otter"]);
    // The queue in its order: the next to start first.
    await fireEvent.change(screen.getByTestId("filter-state"), { target: { value: "queued" } });
    expect(rows().map((r) => r.dataset.codename)).toEqual(["calm-heron", "keen-mole"]);
    await fireEvent.change(screen.getByTestId("filter-state"), { target: { value: "all" } });
    await fireEvent.change(screen.getByTestId("filter-repo"), { target: { value: "/other" } });
    expect(rows().map((r) => r.dataset.codename)).toEqual(["keen-mole"]);
    await fireEvent.click(rows()[0]);
    expect(app.selectedId).toBe("01c");
  });

  it("shows a job's sidekicks indented under it", () => {
    const app = withJobs(
      job({ id: "01a", codename: "main-job", state: "running" }),
      job({ id: "01b", codename: "other" }),
      job({ id: "01c", codename: "side-kick", parent_id: "01a", spawned_by: "Claude Code 2.1.330" }),
    );
    render(JobList, { app });
    const rows = screen.getAllByTestId("job-row");
    expect(rows.map((r) => `${r.dataset.depth}:${r.dataset.codename}`)).toEqual(["0:other", "0:main-job", "1:side-kick"]);
    expect(rows[2].textContent).toContain("↳");
  });

  it("renders only a window of a thousand jobs", () => {
    const many = Array.from({ length: 1000 }, (_, i) => job({ id: `01${String(i).padStart(4, "0")}`, codename: `job-${i}` }));
    render(JobList, { app: withJobs(...many) });
    const n = screen.getAllByTestId("job-row").length;
    expect(n).toBeGreaterThan(5);
    expect(n).toBeLessThan(60);
  });
});
