// Terminal output shown the way a terminal would: a carriage return starts the line over (the
// progress bar's last state is what stays), SGR escapes (colours, bold, underline) become
// styled pieces, and every other control sequence (cursor moves, erase, titles) is dropped.

/** A piece of a line and the CSS it is drawn with ("" for plain). */
export type Piece = { text: string; style: string };

// The 16 colours, readable on light and dark backgrounds.
const BASE = ["#4d4d4d", "#c23b3b", "#3b8f3b", "#a07a12", "#3b5fc2", "#9a3bb0", "#2a8f96", "#9a9a9a"];
const BRIGHT = ["#7a7a7a", "#e05454", "#4fb04f", "#c99a1c", "#5a7ee0", "#bb5acf", "#3bb0b8", "#c8c8c8"];

// CSI (ESC [ … final byte), OSC (ESC ] … BEL or ESC \), and two-byte escapes.
// eslint-disable-next-line no-control-regex
const ESCAPES = /\x1b\[([0-9;?]*)([@-~])|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[@-Z\\-_]/g;

/** What is left of `line` after its carriage returns: the text after the last one, written
 *  over what came before (a shorter redraw keeps the older text's tail, as a terminal does). */
export function overwrite(line: string): string {
  const text = line.endsWith("\r") ? line.slice(0, -1) : line;
  if (!text.includes("\r")) return text;
  let screen = "";
  for (const part of text.split("\r")) {
    screen = part + screen.slice(part.length);
  }
  return screen;
}

type Pen = { fg: string; bg: string; bold: boolean; dim: boolean; italic: boolean; underline: boolean };
const plain = (): Pen => ({ fg: "", bg: "", bold: false, dim: false, italic: false, underline: false });

function css(p: Pen): string {
  const out: string[] = [];
  if (p.fg) out.push(`color:${p.fg}`);
  if (p.bg) out.push(`background:${p.bg}`);
  if (p.bold) out.push("font-weight:bold");
  if (p.dim) out.push("opacity:0.7");
  if (p.italic) out.push("font-style:italic");
  if (p.underline) out.push("text-decoration:underline");
  return out.join(";");
}

function color256(n: number): string {
  if (n < 8) return BASE[n];
  if (n < 16) return BRIGHT[n - 8];
  if (n < 232) {
    const c = n - 16;
    const v = (x: number) => (x === 0 ? 0 : 55 + x * 40);
    return `rgb(${v(Math.floor(c / 36))},${v(Math.floor(c / 6) % 6)},${v(c % 6)})`;
  }
  const g = 8 + (n - 232) * 10;
  return `rgb(${g},${g},${g})`;
}

/** Applies one SGR sequence's parameters to the pen. */
function sgr(pen: Pen, params: string): Pen {
  const codes = params === "" ? [0] : params.split(";").map((c) => Number(c) || 0);
  let p = { ...pen };
  for (let i = 0; i < codes.length; i++) {
    const c = codes[i];
    if (c === 0) p = plain();
    else if (c === 1) p.bold = true;
    else if (c === 2) p.dim = true;
    else if (c === 3) p.italic = true;
    else if (c === 4) p.underline = true;
    else if (c === 22) p.bold = p.dim = false;
    else if (c === 23) p.italic = false;
    else if (c === 24) p.underline = false;
    else if (c >= 30 && c <= 37) p.fg = BASE[c - 30];
    else if (c >= 90 && c <= 97) p.fg = BRIGHT[c - 90];
    else if (c === 39) p.fg = "";
    else if (c >= 40 && c <= 47) p.bg = BASE[c - 40];
    else if (c >= 100 && c <= 107) p.bg = BRIGHT[c - 100];
    else if (c === 49) p.bg = "";
    else if (c === 38 || c === 48) {
      let value = "";
      if (codes[i + 1] === 5 && i + 2 < codes.length) {
        value = color256(codes[i + 2]);
        i += 2;
      } else if (codes[i + 1] === 2 && i + 4 < codes.length) {
        value = `rgb(${codes[i + 2]},${codes[i + 3]},${codes[i + 4]})`;
        i += 4;
      }
      if (c === 38) p.fg = value;
      else p.bg = value;
    }
  }
  return p;
}

/** A line of terminal output as styled pieces. */
export function pieces(line: string): Piece[] {
  const text = overwrite(line);
  const out: Piece[] = [];
  let pen = plain();
  let at = 0;
  const push = (s: string) => {
    if (!s) return;
    const style = css(pen);
    const last = out[out.length - 1];
    if (last && last.style === style) last.text += s;
    else out.push({ text: s, style });
  };
  for (const m of text.matchAll(ESCAPES)) {
    push(text.slice(at, m.index));
    at = m.index + m[0].length;
    if (m[2] === "m") pen = sgr(pen, m[1]);
  }
  push(text.slice(at));
  return out;
}

/** The text of a line as a terminal would show it, without styles. */
export function visibleText(line: string): string {
  return pieces(line)
    .map((p) => p.text)
    .join("");
}

/** Whether a line needs `pieces` (it holds escapes or carriage returns). */
export const isStyled = (line: string) => line.includes("\x1b") || line.includes("\r");
