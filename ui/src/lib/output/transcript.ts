// The job view's transcript: the agent's conversation (the host's parsed `transcript` entries)
// and Sidekick's notices (the user's replies, what the agent asked and the answers), turned into
// rows. A tool's result joins its call's row. The agent's words are markdown, rendered with
// `marked` and cleaned with DOMPurify (an agent's text is not trusted HTML).
import DOMPurify from "dompurify";
import { Marked } from "marked";
import hljs from "highlight.js/lib/core";
import { escapeHtml } from "../review/highlight";
import type { Entry, Event, PlanItem, Tokens } from "../types/protocol";

export type Row =
  | { kind: "text"; key: number; text: string }
  | {
      kind: "tool";
      key: number;
      id: string;
      name: string;
      brief: string;
      input: unknown;
      result: { output: string; error: boolean } | null;
    }
  | { kind: "plan"; key: number; items: PlanItem[] }
  | { kind: "turn"; key: number; tokens: Tokens; cost: number | null }
  | { kind: "you"; key: number; text: string }
  | { kind: "ask"; key: number; text: string }
  | { kind: "answer"; key: number; text: string; allowed: boolean }
  | { kind: "notice"; key: number; text: string; level: string };

const marked = new Marked({
  gfm: true,
  breaks: false,
  renderer: {
    code({ text, lang }) {
      const language = lang && hljs.getLanguage(lang) ? lang : null;
      const body = language ? hljs.highlight(text, { language }).value : escapeHtml(text);
      return `<pre class="code"><code class="hljs">${body}</code></pre>`;
    },
  },
});

/** Markdown to safe HTML: no scripts, handlers or foreign elements survive. */
export function renderMarkdown(text: string): string {
  const html = marked.parse(text, { async: false });
  return DOMPurify.sanitize(html, { USE_PROFILES: { html: true } });
}

/** Rows built from a job's transcript events, as they arrive. */
export class Transcript {
  rows: Row[] = [];
  private tools = new Map<string, number>();

  private rendered = new Map<number, string>();

  /** A text row's markdown as safe HTML, rendered once. */
  html(row: { key: number; text: string }): string {
    let html = this.rendered.get(row.key);
    if (html === undefined) {
      html = renderMarkdown(row.text);
      this.rendered.set(row.key, html);
    }
    return html;
  }

  add(events: Event[]) {
    for (const ev of events) {
      if (ev.kind === "transcript") this.entry(ev.seq, ev.entry);
      else if (ev.kind === "notice") this.notice(ev.seq, ev.level, ev.message);
    }
  }

  private entry(key: number, e: Entry) {
    switch (e.type) {
      case "text":
        // Rendered when shown (`html`): a long transcript is mostly off screen.
        this.rows.push({ kind: "text", key, text: e.text });
        break;
      case "tool":
        this.tools.set(e.id, this.rows.length);
        this.rows.push({ kind: "tool", key, id: e.id, name: e.name, brief: e.brief, input: e.input, result: null });
        break;
      case "result": {
        const at = this.tools.get(e.id);
        const row = at === undefined ? undefined : this.rows[at];
        if (row && row.kind === "tool") {
          // A new object, so views keyed on rows see the change.
          this.rows[at!] = { ...row, result: { output: e.output, error: e.error } };
        } else {
          this.rows.push({ kind: "notice", key, level: e.error ? "error" : "info", text: e.output });
        }
        break;
      }
      case "plan":
        this.rows.push({ kind: "plan", key, items: e.items });
        break;
      case "turn":
        this.rows.push({ kind: "turn", key, tokens: e.tokens, cost: e.cost_usd });
        break;
    }
  }

  private notice(key: number, level: string, message: string) {
    if (message.startsWith("you: ")) {
      this.rows.push({ kind: "you", key, text: message.slice(5) });
    } else if (message.startsWith("the agent asks to use ")) {
      this.rows.push({ kind: "ask", key, text: message.slice("the agent asks to use ".length) });
    } else if (/^(allowed|allowed for the rest of the job|denied): /.test(message)) {
      this.rows.push({ kind: "answer", key, text: message, allowed: !message.startsWith("denied") });
    } else {
      this.rows.push({ kind: "notice", key, level, text: message });
    }
  }
}

/** `1,234 in · 56 out · $0.0123` */
export function turnFigures(tokens: Tokens, cost: number | null): string {
  const parts = [`${tokens.input.toLocaleString()} in`, `${tokens.output.toLocaleString()} out`];
  if (cost != null) parts.push(`$${cost.toFixed(4)}`);
  return parts.join(" · ");
}
