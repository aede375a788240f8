/**
 * What the request path needs of a cancellation signal: the part of AbortSignal it uses. An
 * AbortSignal satisfies it; the request path itself uses the lighter ClientGone.
 */
export interface CancelSignal {
  readonly aborted: boolean;
  addEventListener(type: 'abort', listener: () => void, options?: { once?: boolean }): void;
  removeEventListener(type: 'abort', listener: () => void): void;
}

/**
 * Set when the client hangs up. An AbortController per request (an EventTarget with its event
 * machinery) showed in the request-path profile; this is a flag and at most a couple of
 * listeners (the upstream exchange, a replayed body).
 */
export class ClientGone implements CancelSignal {
  aborted = false;
  private listeners: (() => void)[] | null = null;

  addEventListener(_type: 'abort', listener: () => void): void {
    (this.listeners ??= []).push(listener);
  }

  removeEventListener(_type: 'abort', listener: () => void): void {
    const i = this.listeners?.indexOf(listener) ?? -1;
    if (i >= 0) this.listeners!.splice(i, 1);
  }

  abort(): void {
    if (this.aborted) return;
    this.aborted = true;
    const listeners = this.listeners;
    this.listeners = null;
    if (listeners) for (const l of listeners) l();
  }
}
