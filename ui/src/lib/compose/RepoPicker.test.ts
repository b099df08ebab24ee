// RepoPicker against a mocked IPC: what it shows, what it sends, and how it shows refusals.
import { fireEvent, render, screen, waitFor } from "@testing-library/svelte";
import { describe, expect, it } from "vitest";
import RepoPicker from "../compose/RepoPicker.svelte";

import { host, withJobs, repo, type Args } from "../test-host";

describe("RepoPicker", () => {
  it("opens a repository and remembers it", async () => {
    host({ repo_info: repo });
    const app = withJobs();
    render(RepoPicker, { app });
    await fireEvent.input(screen.getByTestId("repo-path"), { target: { value: "/work/repo/src" } });
    await fireEvent.click(screen.getByTestId("repo-open"));
    await waitFor(() => expect(screen.getByTestId("repo-current").textContent).toContain("repo"));
    expect(app.recent).toEqual(["/work/repo"]);
    expect(JSON.parse(localStorage.getItem("sidekick.recent-repos") ?? "[]")).toEqual(["/work/repo"]);
  });

  it("shows the host's error for a folder that is not a repository", async () => {
    host({ repo_info: () => { throw { code: "not_a_repo", message: "/tmp/x is not inside a git repository" }; } });
    const app = withJobs();
    render(RepoPicker, { app });
    await fireEvent.input(screen.getByTestId("repo-path"), { target: { value: "/tmp/x" } });
    await fireEvent.click(screen.getByTestId("repo-open"));
    await waitFor(() => expect(screen.getByTestId("repo-error").textContent).toBe("/tmp/x is not inside a git repository"));
    expect(app.repo).toBeNull();
  });

  it("reopens the last repository at start and opens one from the folder picker", async () => {
    localStorage.setItem("sidekick.recent-repos", JSON.stringify(["/work/repo"]));
    const other = { ...repo, root: "/work/other", name: "other" };
    const calls = host({ repo_info: (a: Args) => (a.path === "/work/other" ? other : repo), pick_folder: "/work/other" });
    const app = withJobs();
    render(RepoPicker, { app });
    await waitFor(() => expect(app.repo?.root).toBe("/work/repo"));
    await fireEvent.click(screen.getByTestId("repo-browse"));
    await waitFor(() => expect(app.repo?.root).toBe("/work/other"));
    expect(calls.filter((c) => c.cmd === "repo_info").map((c) => c.args.path)).toEqual(["/work/repo", "/work/other"]);
    expect(app.recent).toEqual(["/work/other", "/work/repo"]);
  });
});
