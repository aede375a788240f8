/**
 * Upstream error text can carry secrets: a provider that rejects a key often echoes it
 * ("Incorrect API key provided: sk-…"). Everything that leaves the pipeline (the client's error
 * body, logs, generation records, cassettes) passes through a Redactor first.
 */

/** Token shapes of the providers' credentials, and bearer headers quoted back. */
const TOKEN_PATTERNS: RegExp[] = [
  /\bBearer\s+[A-Za-z0-9._~+/=-]{8,}/g,
  /\b(?:sk|pk|rk)-(?:[A-Za-z0-9]+-)*[A-Za-z0-9_]{12,}/g, // OpenAI, Anthropic (sk-ant-…), OpenRouter (sk-or-v1-…), Moonshot, DeepSeek
  /\bsk_[A-Za-z0-9]{16,}/g,
  /\bgsk_[A-Za-z0-9]{16,}/g, // Groq
  /\bxai-[A-Za-z0-9]{16,}/g, // xAI
  /\bAIza[0-9A-Za-z_-]{30,}/g, // Google API keys
  /\b(?:AKIA|ASIA)[0-9A-Z]{16}\b/g, // AWS access key ids
  /\bhf_[A-Za-z0-9]{20,}/g, // Hugging Face
  /([?&](?:key|api_key|apikey|token|access_token)=)[^&\s"']+/gi,
];

const MASK = '[redacted]';

export class Redactor {
  private readonly secrets: string[];

  /** `secrets`: exact strings to mask wherever they appear (the configured provider keys). */
  constructor(secrets: Iterable<string | undefined>) {
    // Longest first, so a key that contains another is masked whole; short values are not secrets worth a scan.
    this.secrets = [...new Set([...secrets].filter((s): s is string => typeof s === 'string' && s.length >= 8))].sort((a, b) => b.length - a.length);
  }

  redact(text: string): string {
    let out = text;
    for (const s of this.secrets) if (out.includes(s)) out = out.split(s).join(MASK);
    for (const re of TOKEN_PATTERNS) {
      re.lastIndex = 0;
      if (re.test(out)) {
        re.lastIndex = 0;
        out = out.replace(re, (match: string, prefix?: string) => (typeof prefix === 'string' && match.startsWith(prefix) ? prefix + MASK : MASK));
      }
    }
    return out;
  }
}

/** A Redactor that knows every configured provider credential (every key of every pool). */
export function providerRedactor(providers: Iterable<{ apiKey?: string; keys: { secrets(): string[] } }>): Redactor {
  return new Redactor([...providers].flatMap((p) => [p.apiKey, ...p.keys.secrets()].flatMap(withSecretFields)));
}

const SECRET_FIELD = /secret|private_key|token|password/i;

/**
 * A credential that is a JSON document (a service-account key file, an Entra ID application)
 * and the secrets inside it: an upstream or a library quotes the private key or client secret
 * alone, never the whole document.
 */
function withSecretFields(secret: string | undefined): (string | undefined)[] {
  if (!secret || !secret.startsWith('{')) return [secret];
  try {
    const doc = JSON.parse(secret) as Record<string, unknown>;
    return [secret, ...Object.entries(doc).flatMap(([k, v]) => (SECRET_FIELD.test(k) && typeof v === 'string' ? [v] : []))];
  } catch {
    return [secret];
  }
}
