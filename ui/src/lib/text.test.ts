import { describe, expect, it } from "vitest";
import { visible } from "./text";

describe("visible", () => {
  it("shows what would hide a command's real text, as the host does", () => {
    expect(visible("touch X \r\u001b[2Kecho harmless")).toBe("touch X \\r\\u{1b}[2Kecho harmless");
    expect(visible("a\u202Ecba\u200B")).toBe("a\\u{202e}cba\\u{200b}");
    expect(visible("npm ci\nmake")).toBe("npm ci\nmake");
    expect(visible("café ✓")).toBe("café ✓");
  });
});
