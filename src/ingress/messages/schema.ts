import { Type, type Static, type TSchema, type TUnsafe } from '@sinclair/typebox';

// Anthropic's Messages request (POST /v1/messages, and /v1/messages/count_tokens, which has the same
// fields minus max_tokens), plus OpenRouter's routing extensions (`provider`, `models`, `route`,
// `session_id`). Objects stay open: Anthropic adds fields with every beta, and a body that goes to an
// Anthropic upstream is passed on as received (NativeRequest). The schema checks the envelope and
// names the offending field; content blocks and tools are checked block by block in to-model.ts,
// where a message can say which block type is wrong and unknown types can be dropped.

const Nullable = <T extends TSchema>(t: T) => Type.Union([t, Type.Null()]);

/** A string enum compiled as `enum` (Ajv then names the allowed values), not as an anyOf of consts. */
function OneOf<const T extends readonly string[]>(values: T): TUnsafe<T[number]> {
  return Type.Unsafe<T[number]>({ type: 'string', enum: [...values] });
}

const CacheControl = Type.Object({ type: Type.Literal('ephemeral'), ttl: Type.Optional(Type.String()) });

/** Any content block: its `type` is checked here, the rest by to-model.ts. */
const Block = Type.Object({ type: Type.String({ minLength: 1 }) });

const MessageSchema = Type.Object({
  // `system` inside `messages`: Claude Code sends mid-conversation instructions that way.
  role: OneOf(['user', 'assistant', 'system'] as const),
  content: Type.Union([Type.String(), Type.Array(Block)]),
});

const SystemBlock = Type.Object({
  type: Type.Literal('text'),
  text: Type.String(),
  cache_control: Type.Optional(Nullable(CacheControl)),
});

/** Custom tools (name + input_schema) and server tools (a dated `type`): to-model.ts tells them apart. */
const ToolSchema = Type.Object({
  type: Type.Optional(Nullable(Type.String())),
  name: Type.Optional(Type.String({ minLength: 1 })),
  description: Type.Optional(Type.String()),
  input_schema: Type.Optional(Type.Object({})),
  cache_control: Type.Optional(Nullable(CacheControl)),
  strict: Type.Optional(Nullable(Type.Boolean())),
  defer_loading: Type.Optional(Type.Boolean()),
});

const ToolChoiceSchema = Type.Object({
  type: OneOf(['auto', 'any', 'tool', 'none'] as const),
  name: Type.Optional(Type.String()),
  disable_parallel_tool_use: Type.Optional(Type.Boolean()),
});

const ThinkingSchema = Type.Object({
  type: OneOf(['enabled', 'disabled', 'adaptive'] as const),
  budget_tokens: Type.Optional(Type.Integer({ minimum: 0 })),
  display: Type.Optional(Nullable(Type.String())),
});

const Effort = OneOf(['max', 'xhigh', 'high', 'medium', 'low', 'minimal', 'none'] as const);

const OutputConfig = Type.Object({
  effort: Type.Optional(Nullable(Effort)),
  format: Type.Optional(Nullable(Type.Object({ type: Type.String() }))),
});

export const MessagesRequestSchema = Type.Object({
  model: Type.String({ minLength: 1 }),
  messages: Type.Array(MessageSchema, { minItems: 1 }),
  // Required by /v1/messages (checked in to-model.ts), absent from count_tokens.
  max_tokens: Type.Optional(Type.Integer({ minimum: 1 })),
  system: Type.Optional(Type.Union([Type.String(), Type.Array(SystemBlock)])),
  stream: Type.Optional(Nullable(Type.Boolean())),
  stop_sequences: Type.Optional(Nullable(Type.Array(Type.String()))),
  // Anthropic's own range is 0..1; up to 2 for upstreams of other protocols (an Anthropic upstream
  // answers a value above 1 with its own 400).
  temperature: Type.Optional(Nullable(Type.Number({ minimum: 0, maximum: 2 }))),
  top_p: Type.Optional(Nullable(Type.Number({ minimum: 0, maximum: 1 }))),
  top_k: Type.Optional(Nullable(Type.Integer({ minimum: 0 }))),
  metadata: Type.Optional(Nullable(Type.Object({ user_id: Type.Optional(Nullable(Type.String())) }))),
  tools: Type.Optional(Nullable(Type.Array(ToolSchema))),
  tool_choice: Type.Optional(Nullable(ToolChoiceSchema)),
  thinking: Type.Optional(Nullable(ThinkingSchema)),
  output_config: Type.Optional(Nullable(OutputConfig)),
  cache_control: Type.Optional(Nullable(CacheControl)),
  // OpenRouter extensions (routing instructions, never sent to an upstream).
  models: Type.Optional(Nullable(Type.Array(Type.String({ minLength: 1 })))),
  provider: Type.Optional(Nullable(Type.Object({}))),
  route: Type.Optional(Nullable(Type.String())),
  session_id: Type.Optional(Type.String({ maxLength: 256 })),
});

export type MessagesRequest = Static<typeof MessagesRequestSchema> & Record<string, unknown>;
