import { describe, expect, it } from "vitest";
import { AppState } from "./state.svelte";
import { job } from "./test-fixtures";

describe("AppState", () => {
  it("applies changes newer than the snapshot and skips older ones", () => {
    const app = new AppState();
    app.applySnapshot({ seq: 10, loaded: true, jobs: [job({ id: "a", state: "running" })], host: { status: "connecting" } });
    app.applyChange({ seq: 9, job: job({ id: "a", state: "queued" }) });
    expect(app.jobs.get("a")?.state).toBe("running");
    app.applyChange({ seq: 11, job: job({ id: "a", state: "completed" }) });
    expect(app.jobs.get("a")?.state).toBe("completed");
    expect(app.counts).toEqual({ waiting: 0, running: 0, queued: 0, review: 1 });
  });

  it("shows an action's answer unless the event stream brought something newer first", () => {
    const app = new AppState();
    app.applySnapshot({ seq: 1, loaded: true, jobs: [job({ id: "a", state: "completed" })], host: { status: "connecting" } });
    // Nothing arrived meanwhile: the answer shows at once.
    let before = app.jobs.get("a");
    app.acted(before, job({ id: "a", state: "queued" }));
    expect(app.jobs.get("a")?.state).toBe("queued");
    // The job moved on (started, asked) before the answer came back: the answer is stale.
    before = app.jobs.get("a");
    app.applyChange({ seq: 2, job: job({ id: "a", state: "waiting" }) });
    app.acted(before, job({ id: "a", state: "queued" }));
    expect(app.jobs.get("a")?.state).toBe("waiting");
    // A new job: shown unless its own events got there first.
    app.acted(undefined, job({ id: "b", state: "queued" }));
    expect(app.jobs.get("b")?.state).toBe("queued");
    app.applyChange({ seq: 3, job: job({ id: "c", state: "running" }) });
    app.acted(undefined, job({ id: "c", state: "queued" }));
    expect(app.jobs.get("c")?.state).toBe("running");
  });

  it("opens jobs by id, prefix or codename and steps through the list", () => {
    const app = new AppState();
    app.applySnapshot({
      seq: 1, loaded: true, host: { status: "connecting" },
      jobs: [job({ id: "01b", codename: "b-b" }), job({ id: "01a", codename: "a-a" }), job({ id: "01c", codename: "c-c" })],
    });
    expect(app.open("b-b")).toBe(true);
    expect(app.selectedId).toBe("01b");
    expect(app.open("01c", "diff")).toBe(true);
    expect(app.pane).toBe("diff");
    expect(app.open("zzz")).toBe(false);
    app.step(1);
    expect(app.selectedId).toBe("01b");
    app.step(1);
    app.step(1);
    expect(app.selectedId).toBe("01a");
    app.step(-5);
    expect(app.selectedId).toBe("01c");
  });
});
