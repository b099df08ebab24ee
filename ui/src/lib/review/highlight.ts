// Syntax highlighting with highlight.js, one diff line (or piece of one) at a time.
import hljs from "highlight.js/lib/core";
import bash from "highlight.js/lib/languages/bash";
import c from "highlight.js/lib/languages/c";
import cpp from "highlight.js/lib/languages/cpp";
import css from "highlight.js/lib/languages/css";
import go from "highlight.js/lib/languages/go";
import ini from "highlight.js/lib/languages/ini";
import java from "highlight.js/lib/languages/java";
import javascript from "highlight.js/lib/languages/javascript";
import json from "highlight.js/lib/languages/json";
import markdown from "highlight.js/lib/languages/markdown";
import python from "highlight.js/lib/languages/python";
import rust from "highlight.js/lib/languages/rust";
import typescript from "highlight.js/lib/languages/typescript";
import xml from "highlight.js/lib/languages/xml";
import yaml from "highlight.js/lib/languages/yaml";
import { segments } from "./diffrows";
import type { Span } from "../types/protocol";

const languages = { bash, c, cpp, css, go, ini, java, javascript, json, markdown, python, rust, typescript, xml, yaml };
for (const [name, lang] of Object.entries(languages)) hljs.registerLanguage(name, lang);

const byExtension: Record<string, string> = {
  rs: "rust", ts: "typescript", tsx: "typescript", js: "javascript", jsx: "javascript",
  mjs: "javascript", cjs: "javascript", py: "python", go: "go", json: "json", yml: "yaml",
  yaml: "yaml", toml: "ini", ini: "ini", md: "markdown", css: "css", html: "xml", xml: "xml",
  svelte: "xml", vue: "xml", sh: "bash", bash: "bash", c: "c", h: "c", cc: "cpp", cpp: "cpp",
  hpp: "cpp", java: "java",
};

export function languageOf(path: string): string | null {
  const ext = path.split(".").pop()?.toLowerCase() ?? "";
  return byExtension[ext] ?? null;
}

export function escapeHtml(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

function colour(text: string, language: string | null): string {
  if (!language || text.length > 2000) return escapeHtml(text);
  return hljs.highlight(text, { language, ignoreIllegals: true }).value;
}

/** HTML for one line: syntax colours, with the engine's word-level changes marked. */
export function lineHtml(text: string, spans: Span[] | undefined, language: string | null): string {
  return segments(text, spans)
    .map((s) => (s.changed ? `<mark class="word">${colour(s.text, language)}</mark>` : colour(s.text, language)))
    .join("");
}
