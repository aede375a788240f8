import { Type, type Static, type TSchema } from '@sinclair/typebox';

// OpenRouter's embeddings request (OpenAI's `POST /v1/embeddings` plus OpenRouter's `provider`,
// `models`, `input_type` and `session_id`). `input` takes several shapes (a string, strings, token
// ids, lists of token ids) and is checked in codec.ts, where the message can say which shape is wrong.

const Nullable = <T extends TSchema>(t: T) => Type.Union([t, Type.Null()]);

export const EmbeddingsRequestSchema = Type.Object({
  model: Type.Optional(Type.String({ minLength: 1 })),
  models: Type.Optional(Nullable(Type.Array(Type.String({ minLength: 1 })))),
  input: Type.Unknown(),
  dimensions: Type.Optional(Nullable(Type.Integer({ minimum: 1 }))),
  encoding_format: Type.Optional(Nullable(Type.Unsafe<'float' | 'base64'>({ type: 'string', enum: ['float', 'base64'] }))),
  input_type: Type.Optional(Nullable(Type.String({ minLength: 1 }))),
  user: Type.Optional(Nullable(Type.String())),
  provider: Type.Optional(Nullable(Type.Object({}))),
  session_id: Type.Optional(Type.String({ maxLength: 256 })),
  stream: Type.Optional(Nullable(Type.Boolean())),
});

export type EmbeddingsRequest = Static<typeof EmbeddingsRequestSchema> & Record<string, unknown>;
