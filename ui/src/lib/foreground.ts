// What the user is waiting for goes first: background checks (the list's freshness previews)
// hold back while a view the user just opened loads its first screen, so the host and this
// thread serve that one.

let loading = 0;
let waiting: (() => void)[] = [];

/** The longest one load holds the background back (a window that is not shown paints no frame). */
const LONGEST_MS = 2000;

/** Marks `p` as foreground work until it settles (or for LONGEST_MS at most); returns it. */
export function foreground<T>(p: Promise<T>): Promise<T> {
  loading += 1;
  let settled = false;
  const done = () => {
    if (settled) return;
    settled = true;
    loading -= 1;
    if (loading > 0) return;
    const go = waiting;
    waiting = [];
    for (const f of go) f();
  };
  p.then(done, done);
  setTimeout(done, LONGEST_MS);
  return p;
}

/** Resolves when no foreground work is loading (at once when none is). */
export function quiet(): Promise<void> {
  return loading === 0 ? Promise.resolve() : new Promise((r) => waiting.push(r));
}
