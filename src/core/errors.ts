/**
 * OpenRouter's error envelope: `{"error":{"message","code","metadata"?}}` where code equals the
 * HTTP status whenever the response is not yet committed (spec §13.1).
 */
export interface ErrorBody {
  error: { message: string; code: number; metadata?: Record<string, unknown> };
}

export class ApiError extends Error {
  readonly status: number;
  readonly metadata?: Record<string, unknown>;
  readonly headers?: Record<string, string>;

  constructor(status: number, message: string, metadata?: Record<string, unknown>, headers?: Record<string, string>) {
    super(message);
    this.status = status;
    this.metadata = metadata;
    this.headers = headers;
  }

  toBody(): ErrorBody {
    const error: ErrorBody['error'] = { message: this.message, code: this.status };
    if (this.metadata) error.metadata = this.metadata;
    return { error };
  }
}

export const badRequest = (message: string, metadata?: Record<string, unknown>) =>
  new ApiError(400, message, metadata);
