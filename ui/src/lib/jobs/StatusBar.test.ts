// StatusBar against a mocked IPC: what it shows, what it sends, and how it shows refusals.
import { fireEvent, render, screen } from "@testing-library/svelte";
import { describe, expect, it } from "vitest";
import { job } from "../test-fixtures";
import StatusBar from "../jobs/StatusBar.svelte";

import { withJobs } from "../test-host";

describe("StatusBar", () => {
  it("counts running, queued and to-review jobs and opens one from the popover", async () => {
    const app = withJobs(
      job({ id: "01a", codename: "brave-otter", state: "running", ended_at: null }),
      job({ id: "01b", codename: "calm-heron", state: "queued", started_at: null, ended_at: null }),
      job({ id: "01c", codename: "swift-lynx", state: "completed" }),
      job({ id: "01d", codename: "old-crow", state: "merged" }),
    );
    render(StatusBar, { app });
    expect(screen.getByTestId("status-summary").textContent?.replace(/\s+/g, " ").trim()).toBe(
      "1 running · 1 queued · 1 to review",
    );
    await fireEvent.click(screen.getByTestId("status-summary"));
    const rows = screen.getAllByTestId("status-job");
    expect(rows.map((r) => r.querySelector("strong")?.textContent)).toEqual(["brave-otter", "calm-heron", "swift-lynx"]);
    await fireEvent.click(rows[2]);
    expect(app.selectedId).toBe("01c");
    expect(screen.queryByTestId("status-popover")).toBeNull();
  });

  it("lists under 'To review' exactly the jobs the bar counts, and Escape closes it", async () => {
    const app = withJobs(
      job({ id: "01c", codename: "swift-lynx", state: "completed" }),
      job({ id: "01f", codename: "empty-fox", state: "failed", files_changed: 0 }),
      job({ id: "01g", codename: "kept-owl", state: "completed", archived: true }),
      job({ id: "01h", codename: "half-elk", state: "failed", files_changed: 2 }),
    );
    render(StatusBar, { app });
    expect(screen.getByTestId("status-summary").textContent).toContain("2 to review");
    await fireEvent.click(screen.getByTestId("status-summary"));
    expect(screen.getByTestId("status-popover").textContent).toContain("To review (2)");
    const rows = screen.getAllByTestId("status-job").map((r) => r.querySelector("strong")?.textContent);
    expect(rows).toEqual(["half-elk", "swift-lynx"]);
    await fireEvent.keyDown(window, { key: "Escape" });
    expect(screen.queryByTestId("status-popover")).toBeNull();
  });

  it("puts what needs the user first", async () => {
    const app = withJobs(
      job({ id: "01a", codename: "brave-otter", state: "running", ended_at: null }),
      job({ id: "01e", codename: "shy-wren", state: "waiting", ended_at: null }),
    );
    render(StatusBar, { app });
    expect(screen.getByTestId("status-summary").textContent?.replace(/\s+/g, " ").trim()).toBe(
      "1 needs you · 1 running · 0 queued · 0 to review",
    );
    await fireEvent.click(screen.getByTestId("status-summary"));
    const rows = screen.getAllByTestId("status-job");
    expect(rows[0].querySelector("strong")?.textContent).toBe("shy-wren");
  });

  it("says when the host is gone", () => {
    const app = withJobs();
    app.host = { status: "lost", message: "The Sidekick host stopped; reconnecting." };
    render(StatusBar, { app });
    expect(screen.getByTestId("host-state").textContent).toContain("reconnecting");
  });
});
