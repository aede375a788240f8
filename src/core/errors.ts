/**
 * OpenRouter's error envelope: `{"error":{"message","code","metadata"?}}` where code equals the
 * HTTP status whenever the response is not yet committed (docs/COMPATIBILITY.md#error-envelope).
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

/** OpenRouter's typed error vocabulary (docs/COMPATIBILITY.md#error-types) for a status. */
export function errorTypeOf(status: number): string {
  switch (status) {
    case 400:
      return 'invalid_request';
    case 401:
      return 'authentication';
    case 402:
      return 'payment_required';
    case 403:
      return 'permission_denied';
    case 404:
      return 'not_found';
    case 408:
    case 504:
    case 524:
      return 'timeout';
    case 413:
      return 'payload_too_large';
    case 422:
      return 'unprocessable';
    case 429:
      return 'rate_limit_exceeded';
    case 529:
      return 'provider_overloaded';
    default:
      return status >= 500 ? 'provider_unavailable' : 'unmapped';
  }
}
