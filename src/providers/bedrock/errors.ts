import { extractErrorMessage } from '../shared.js';
import type { UpstreamFailure } from '../types.js';

/**
 * Bedrock's errors (https://docs.aws.amazon.com/bedrock/latest/APIReference/CommonErrors.html and
 * the runtime actions' error lists): the type in the `x-amzn-ErrorType` header
 * (`ThrottlingException:http://internal.amazon.com/coral/…`) or a body's `__type`
 * (`com.amazon.coral.service#ThrottlingException`), the text in the body's `message`; inside a
 * stream, exception frames named in lower camel case (`throttlingException`,
 * `modelStreamErrorException`). The status given here decides retry, key rest and fallback
 * (model/response.ts isRetryable): a quota error arrives as HTTP 400 but is a rate limit.
 */

/** Lower-cased exception name -> the status the pipeline acts on. */
const STATUS: Record<string, number> = {
  throttlingexception: 429,
  servicequotaexceededexception: 429,
  toomanyrequestsexception: 429,
  modelnotreadyexception: 503,
  serviceunavailableexception: 503,
  internalserverexception: 500,
  // The model itself failed (Bedrock says 424): another provider may well succeed.
  modelerrorexception: 502,
  modelstreamerrorexception: 502,
  modeltimeoutexception: 408,
  validationexception: 400,
  accessdeniedexception: 403,
  unrecognizedclientexception: 403,
  invalidsignatureexception: 403,
  incompletesignatureexception: 403,
  missingauthenticationtokenexception: 403,
  expiredtokenexception: 403,
  resourcenotfoundexception: 404,
};

/** `ThrottlingException:http://…` or `com.amazon…#ThrottlingException` -> `ThrottlingException`. */
export function errorTypeName(raw: string): string {
  const noUrl = raw.split(':')[0];
  return noUrl.slice(noUrl.lastIndexOf('#') + 1).trim();
}

function headerValue(headers: Record<string, string | string[] | undefined> | undefined, name: string): string | undefined {
  const v = headers?.[name];
  return Array.isArray(v) ? v[0] : v;
}

function failure(type: string | undefined, fallbackStatus: number, message: string): UpstreamFailure {
  const status = type ? STATUS[type.toLowerCase()] : undefined;
  const raw = type && !message.includes(type) ? `${type}: ${message}` : message;
  return { status: status ?? fallbackStatus, raw };
}

/** An error answer (status, body and headers) as an upstream failure. */
export function parseBedrockError(status: number, body: string, headers?: Record<string, string | string[] | undefined>): UpstreamFailure {
  let type = headerValue(headers, 'x-amzn-errortype');
  let message: string | undefined;
  try {
    const json = JSON.parse(body) as Record<string, unknown>;
    if (!type && typeof json.__type === 'string') type = json.__type;
    // JSON 1.x services spell it `Message`.
    const m = json.message ?? json.Message;
    if (typeof m === 'string') message = m;
  } catch {
    // not JSON: the text itself
  }
  return failure(type ? errorTypeName(type) : undefined, status >= 400 ? status : 502, message ?? extractErrorMessage(body));
}

/** An exception frame inside a 200 stream (its type, its JSON payload) as an upstream failure. */
export function streamException(type: string, payload: string): UpstreamFailure {
  let message = payload;
  try {
    const json = JSON.parse(payload) as Record<string, unknown>;
    if (typeof json.message === 'string') message = json.message;
  } catch {
    // the payload as it is
  }
  return failure(type, 502, message);
}
