import { CHAT_SHARED_SCHEMAS, ChatRequestSchema } from '../ingress/chat-completions/schema.js';
import { CatalogModelSchema, CatalogProviderSchema } from '../catalog/schema.js';
import { ConfigSchema } from '../config/schema.js';
import { CreditsChangeSchema, KeyCreateSchema, KeyPatchSchema } from '../keys/schema.js';

/**
 * Every JSON schema the process validates against, under the name of its validator. Read only at
 * build time: scripts/generate.ts compiles them into validation/compiled.js, so neither
 * TypeBox nor Ajv's compiler is loaded (or run) when the gateway starts.
 */
export const SCHEMAS = {
  validateChatRequest: ChatRequestSchema,
  validateMessagesRequest: (await import('../ingress/messages/schema.js')).MessagesRequestSchema,
  validateEmbeddingsRequest: (await import('../ingress/embeddings/schema.js')).EmbeddingsRequestSchema,
  validateConfig: ConfigSchema,
  validateCatalogProvider: CatalogProviderSchema,
  validateCatalogModel: CatalogModelSchema,
  validateKeyCreate: KeyCreateSchema,
  validateKeyPatch: KeyPatchSchema,
  validateCreditsChange: CreditsChangeSchema,
};

/** Schemas the ones above reference by `$id`, each compiled into a function of its own. */
export const SHARED_SCHEMAS = [...CHAT_SHARED_SCHEMAS];

/**
 * The options the validators are compiled with. inlineRefs off: a referenced schema stays a
 * function of its own (see CHAT_SHARED_SCHEMAS) instead of being copied into every user.
 */
export const AJV_OPTIONS = { allErrors: false, strict: false, useDefaults: false, coerceTypes: false, inlineRefs: false } as const;
