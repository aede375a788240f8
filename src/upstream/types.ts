/** What the pipeline needs of an upstream response: undici's, a replayed one, or a recorded one. */
export interface UpstreamBody extends AsyncIterable<Buffer | Uint8Array | string> {
  text(): Promise<string>;
  destroy(): void;
  readonly destroyed: boolean;
}

export interface UpstreamResponse {
  statusCode: number;
  headers: Record<string, string | string[] | undefined>;
  body: UpstreamBody;
}

/** One request to an upstream provider, as an adapter built it. */
export interface UpstreamRequest {
  /** POST unless said (a doctor probe GETs a model list). */
  method?: 'GET' | 'POST';
  url: string;
  headers: Record<string, string>;
  body: string;
}
