// OutputView against a mocked IPC: what it shows, what it sends, and how it shows refusals.
import { fireEvent, render, screen, waitFor } from "@testing-library/svelte";
import { describe, expect, it } from "vitest";
import { job } from "../test-fixtures";
import type { OutputMessage } from "../ipc";
import OutputView from "../output/OutputView.svelte";

import { followed } from "../test-host";

describe("OutputView", () => {
  it("shows streamed lines and the end of the job", async () => {
    const channel = await followed<OutputMessage>("follow_output", () => render(OutputView, { jobId: "01a" }));
    const lines = Array.from({ length: 3 }, (_, i) => ({ seq: i + 1, stream: "stdout" as const, text: `line ${i + 1}` }));
    channel.onmessage({ event: "lines", payload: { lines } });
    channel.onmessage({ event: "lines", payload: { lines: [{ seq: 9, stream: "stderr", text: "warning: x" }] } });
    channel.onmessage({ event: "ended", payload: { job: job() } });
    await waitFor(() => expect(screen.getByTestId("output-count").textContent).toBe("4 lines"));
    const shown = screen.getAllByTestId("output-line");
    expect(shown.map((l) => l.textContent)).toEqual(["line 1", "line 2", "line 3", "warning: x"]);
    expect(shown[3].classList.contains("stderr")).toBe(true);
    expect(screen.getByTestId("output").textContent).toContain("ended");
  });
});

describe("OutputView as a terminal", () => {
  it("draws colours and progress lines as a terminal would, and finds lines", async () => {
    const channel = await followed<OutputMessage>("follow_output", () => render(OutputView, { jobId: "01a" }));
    const lines = [
      "\x1b[1;31merror\x1b[0m: build failed",
      "downloading  10%\rdownloading 100%",
      "plain line",
      "another error here",
    ].map((text, i) => ({ seq: i + 1, stream: "stdout" as const, text }));
    channel.onmessage({ event: "lines", payload: { lines } });
    channel.onmessage({ event: "ended", payload: { job: job() } });
    await waitFor(() => expect(screen.getAllByTestId("output-line").length).toBe(4));
    const shown = screen.getAllByTestId("output-line");
    expect(shown[0].textContent).toBe("error: build failed");
    const red = shown[0].querySelector("span");
    expect(red?.textContent).toBe("error");
    expect(red?.getAttribute("style")?.replace(/\s/g, "")).toContain("font-weight:bold");
    expect(shown[1].textContent).toBe("downloading 100%");
    expect(shown.map((l) => l.textContent).join("")).not.toContain("\x1b");

    await fireEvent.input(screen.getByTestId("output-search"), { target: { value: "ERROR" } });
    await waitFor(() => expect(screen.getByTestId("output-matches").textContent).toBe("1 of 2"));
    expect(screen.getAllByTestId("output-line")[0].classList.contains("current")).toBe(true);
    await fireEvent.keyDown(screen.getByTestId("output-search"), { key: "Enter" });
    expect(screen.getByTestId("output-matches").textContent).toBe("2 of 2");
    expect(screen.getAllByTestId("output-line")[3].classList.contains("current")).toBe(true);
    await fireEvent.input(screen.getByTestId("output-search"), { target: { value: "nothing like it" } });
    expect(screen.getByTestId("output-matches").textContent).toBe("no match");
  });
});
