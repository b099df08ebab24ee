import { describe, expect, it } from "vitest";
import { isStyled, overwrite, pieces, visibleText } from "./ansi";

describe("terminal output", () => {
  it("keeps what a progress bar last drew", () => {
    expect(overwrite("progress  10%\rprogress  55%\rprogress 100%")).toBe("progress 100%");
    // A shorter redraw leaves the older tail, as on a terminal; CRLF is just an end of line.
    expect(overwrite("abcdef\rXY")).toBe("XYcdef");
    expect(overwrite("done\r")).toBe("done");
  });

  it("colours, bolds and resets, and drops every other control sequence", () => {
    const p = pieces("\x1b[1;31merror\x1b[0m: \x1b[38;5;46mok\x1b[39m \x1b[38;2;1;2;3mrgb\x1b[m\x1b[2K\x1b]0;title\x07 end");
    expect(p).toEqual([
      { text: "error", style: "color:#c23b3b;font-weight:bold" },
      { text: ": ", style: "" },
      { text: "ok", style: "color:rgb(0,255,0)" },
      { text: " ", style: "" },
      { text: "rgb", style: "color:rgb(1,2,3)" },
      { text: " end", style: "" },
    ]);
    expect(visibleText("\x1b[32m✓\x1b[0m passed")).toBe("✓ passed");
  });

  it("knows which lines need it", () => {
    expect(isStyled("plain")).toBe(false);
    expect(isStyled("a\rb")).toBe(true);
    expect(isStyled("\x1b[1mb")).toBe(true);
  });
});
