/**
 * A copy of `s` that holds its own characters. V8 represents a slice of 13 or more characters as
 * a view of the original string, which keeps the whole original alive, and a concatenation as a
 * tree of its parts; for strings kept as long as a stream is open (a learned envelope, an encoder
 * template) that is memory held per open stream for nothing. A JSON round trip yields a flat,
 * independent string (Array.prototype.join of a single element would return the view itself).
 */
export function detached(s: string): string {
  return JSON.parse(JSON.stringify(s)) as string;
}
