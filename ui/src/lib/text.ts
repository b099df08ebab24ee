/**
 * Text from a repository or an agent made safe to show: control characters (a carriage return,
 * an escape) and invisible formatting characters (bidi overrides and isolates, zero-width
 * spaces, the byte-order mark) are shown escaped, as `\r` or `\u{202e}`, so a command shown for
 * trust reads as what runs. Line breaks stay (the caller shows them as lines). The same rule as
 * the host's `sidekick_protocol::text::visible`.
 */
export function visible(text: string): string {
  let out = "";
  for (const ch of text) {
    const code = ch.codePointAt(0) ?? 0;
    if (ch === "\n") out += ch;
    else if (ch === "\r") out += "\\r";
    else if (ch === "\t") out += "\\t";
    else if (code < 0x20 || (code >= 0x7f && code <= 0x9f) || hiddenFormat(code)) out += `\\u{${code.toString(16)}}`;
    else out += ch;
  }
  return out;
}

function hiddenFormat(code: number): boolean {
  return (
    code === 0x061c ||
    (code >= 0x200b && code <= 0x200f) ||
    (code >= 0x202a && code <= 0x202e) ||
    (code >= 0x2060 && code <= 0x2064) ||
    (code >= 0x2066 && code <= 0x2069) ||
    code === 0xfeff
  );
}
