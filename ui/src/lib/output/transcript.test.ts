import { describe, expect, it } from "vitest";
import { renderMarkdown, Transcript, turnFigures } from "./transcript";
import type { Entry, Event } from "../types/protocol";

let seq = 0;
const entry = (e: Entry): Event => ({ seq: ++seq, time: 1, job_id: "01a", kind: "transcript", entry: e });
const notice = (message: string, level: "info" | "warn" | "error" = "info"): Event => ({ seq: ++seq, time: 1, job_id: "01a", kind: "notice", level, message });

describe("transcript", () => {
  it("renders the agent's markdown, highlights code and strips anything active", () => {
    const html = renderMarkdown("**bold** and `code`\n\n```rust\nfn main() {}\n```\n\n<script>alert(1)</script><img src=x onerror=alert(2)>\n\n[x](javascript:alert(3)) [ok](https://example.com)");
    expect(html).toContain("<strong>bold</strong>");
    expect(html).toContain("<code>code</code>");
    expect(html).toContain('<span class="hljs-keyword">fn</span>');
    expect(html).not.toContain("<script");
    expect(html).not.toContain("onerror");
    expect(html).not.toContain('href="javascript:');
    expect(html).toContain('<a href="https://example.com">ok</a>');
  });

  it("joins a tool's result to its call and reads Sidekick's notices as the conversation", () => {
    const t = new Transcript();
    t.add([
      entry({ type: "text", text: "I'll run the tests." }),
      entry({ type: "tool", id: "t1", name: "Bash", brief: "cargo test", input: { command: "cargo test" } }),
      notice("the agent asks to use Bash: cargo test", "warn"),
      notice("allowed: Bash cargo test"),
    ]);
    expect(t.rows.map((r) => r.kind)).toEqual(["text", "tool", "ask", "answer"]);
    const tool = t.rows[1];
    expect(tool.kind === "tool" && tool.result).toBe(null);
    t.add([
      entry({ type: "result", id: "t1", output: "2 failed", error: true }),
      entry({ type: "plan", items: [{ text: "Fix it", status: "in_progress" }] }),
      entry({ type: "turn", tokens: { input: 1200, output: 30, cached: 0 }, cost_usd: 0.0123 }),
      notice("you: now fix them"),
      notice("denied: Write src/x.rs (not there)"),
      notice("copied .env into the worktree (it is never committed)"),
      entry({ type: "result", id: "unknown", output: "stray", error: false }),
    ]);
    const joined = t.rows[1];
    expect(joined.kind === "tool" && joined.result).toEqual({ output: "2 failed", error: true });
    expect(t.rows.map((r) => r.kind)).toEqual(["text", "tool", "ask", "answer", "plan", "turn", "you", "answer", "notice", "notice"]);
    const you = t.rows[6];
    expect(you.kind === "you" && you.text).toBe("now fix them");
    const denied = t.rows[7];
    expect(denied.kind === "answer" && denied.allowed).toBe(false);
  });

  it("writes a turn's figures compactly", () => {
    expect(turnFigures({ input: 1234, output: 56, cached: 0 }, 0.0123)).toBe("1,234 in · 56 out · $0.0123");
    expect(turnFigures({ input: 1, output: 2, cached: 0 }, null)).toBe("1 in · 2 out");
  });
});
