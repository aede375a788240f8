import type { Caller } from '../auth/keys.js';
import type { TokenUsage } from '../providers/types.js';

/**
 * The admission seam between the request path and budgets: before any upstream is called the
 * request is admitted against the caller's limits with its worst-case cost, and when the
 * generation ends (served, failed or cancelled) the admission is settled with the actual cost.
 */
export interface AdmissionRequest {
  generationId: string;
  model: string;
  worstCaseUsd: number; // prompt estimate + max output at the most expensive candidate endpoint
  estimatedPromptTokens: number;
  maxOutputTokens: number;
}

export interface Admission {
  settle(actualUsd: number, usage: TokenUsage | null): void | Promise<void>;
}

export interface Gate {
  /** Resolves with an admission, or throws ApiError 402 (credits) / 429 (rate limit). */
  admit(caller: Caller, request: AdmissionRequest): Promise<Admission>;
}

const NOTHING_TO_SETTLE: Admission = { settle() {} };

/** No budgets, no limits: the embedded default until keys with limits exist. */
export const openGate: Gate = {
  async admit() {
    return NOTHING_TO_SETTLE;
  },
};
