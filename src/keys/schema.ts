import { Type, type Static } from '@sinclair/typebox';
import { MAX_CREDITS_NANO, NANO_PER_USD } from './money.js';

/** Bodies of the key management API (`POST /keys`, `PATCH /keys/{hash}`), docs/COMPATIBILITY.md#key-management-api. */
const Reset = Type.Union([Type.Literal('daily'), Type.Literal('weekly'), Type.Literal('monthly'), Type.Null()]);
const RateLimitBodySchema = Type.Union([
  Type.Null(),
  Type.Object(
    {
      requests: Type.Optional(Type.Union([Type.Integer({ minimum: 1 }), Type.Null()])),
      interval: Type.Optional(Type.Union([Type.String(), Type.Integer({ minimum: 1 })])),
      tokens_per_minute: Type.Optional(Type.Union([Type.Integer({ minimum: 1 }), Type.Null()])),
    },
    { additionalProperties: false },
  ),
]);
const Limit = Type.Union([Type.Number({ minimum: 0 }), Type.Null()]);
const ExpiresAt = Type.Union([Type.String(), Type.Null()]);

export const KeyCreateSchema = Type.Object({
  name: Type.String({ minLength: 1, maxLength: 200 }),
  limit: Type.Optional(Limit),
  limit_reset: Type.Optional(Reset),
  include_byok_in_limit: Type.Optional(Type.Boolean()),
  expires_at: Type.Optional(ExpiresAt),
  workspace_id: Type.Optional(Type.String()),
  creator_user_id: Type.Optional(Type.Union([Type.String(), Type.Null()])),
  management: Type.Optional(Type.Boolean()),
  rate_limit: Type.Optional(RateLimitBodySchema),
});
export const KeyPatchSchema = Type.Object({
  name: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
  disabled: Type.Optional(Type.Boolean()),
  limit: Type.Optional(Limit),
  limit_reset: Type.Optional(Reset),
  include_byok_in_limit: Type.Optional(Type.Boolean()),
  expires_at: Type.Optional(ExpiresAt),
  rate_limit: Type.Optional(RateLimitBodySchema),
});

/** Largest amount a credits change may name, in USD: no more than a total may reach. */
const MAX_CREDITS_USD = MAX_CREDITS_NANO / NANO_PER_USD;

/** `POST /credits` (Switchyard extension, docs/COMPATIBILITY.md#changing-the-credits): `add` and/or `set`. */
export const CreditsChangeSchema = Type.Object(
  {
    add: Type.Optional(Type.Number({ minimum: -MAX_CREDITS_USD, maximum: MAX_CREDITS_USD })),
    set: Type.Optional(Type.Union([Type.Number({ minimum: 0, maximum: MAX_CREDITS_USD }), Type.Null()])),
  },
  { additionalProperties: false },
);

export type RateLimitBody = Static<typeof RateLimitBodySchema>;
export type KeyCreateBody = Static<typeof KeyCreateSchema>;
export type KeyPatchBody = Static<typeof KeyPatchSchema>;
export type CreditsChangeBody = Static<typeof CreditsChangeSchema>;
