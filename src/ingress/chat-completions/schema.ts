import { Type, type Static, type TSchema, type TUnsafe } from '@sinclair/typebox';

// OpenRouter's chat request (docs/COMPATIBILITY.md#request-fields, #unknown-fields). Unknown top-level fields are tolerated, so objects
// stay open; what is declared is checked strictly enough to name the offending field.

/**
 * The parts of the request compiled as functions of their own, referenced by `$ref` (Ajv's
 * inlineRefs off). Inlined, the request's validator is one ~230 KB function, larger than V8
 * optimises: it ran ~10x slower, in baseline code, than the same checks split up (bench/README.md).
 */
export const CHAT_SHARED_SCHEMAS: TSchema[] = [];
function shared<T extends TSchema>(id: string, schema: T): TUnsafe<Static<T>> {
  CHAT_SHARED_SCHEMAS.push({ ...schema, $id: id });
  return Type.Unsafe<Static<T>>(Type.Ref(id));
}

const Nullable = <T extends TSchema>(t: T) => Type.Union([t, Type.Null()]);
const CacheControl = Type.Object({ type: Type.Literal('ephemeral'), ttl: Type.Optional(Type.String()) });

const TextPart = Type.Object({ type: Type.Literal('text'), text: Type.String() });
const ImagePart = Type.Object({
  type: Type.Literal('image_url'),
  image_url: Type.Object({ url: Type.String({ minLength: 1 }), detail: Type.Optional(Type.String()) }),
});
const AudioPart = Type.Object({
  type: Type.Literal('input_audio'),
  input_audio: Type.Object({ data: Type.String(), format: Type.String() }),
});
const FilePart = Type.Object({
  type: Type.Literal('file'),
  file: Type.Object({
    filename: Type.Optional(Type.String()),
    file_data: Type.Optional(Type.String()),
    file_id: Type.Optional(Type.String()),
  }),
});
const VideoPart = Type.Object({
  type: Type.Union([Type.Literal('video_url'), Type.Literal('input_video')]),
  video_url: Type.Object({ url: Type.String() }),
});
const ContentPart = Type.Union([TextPart, ImagePart, AudioPart, FilePart, VideoPart]);
const Content = shared('ChatContent', Type.Union([Type.String(), Type.Array(ContentPart)]));

const ToolCall = Type.Object({
  id: Type.String(),
  type: Type.Optional(Type.Literal('function')),
  function: Type.Object({ name: Type.String(), arguments: Type.String() }),
});

const SystemMessage = Type.Object({
  role: Type.Union([Type.Literal('system'), Type.Literal('developer')]),
  content: Content,
  name: Type.Optional(Type.String()),
  cache_control: Type.Optional(CacheControl),
});
const UserMessage = Type.Object({
  role: Type.Literal('user'),
  content: Content,
  name: Type.Optional(Type.String()),
  cache_control: Type.Optional(CacheControl),
});
const AssistantMessage = Type.Object({
  role: Type.Literal('assistant'),
  content: Type.Optional(Nullable(Content)),
  name: Type.Optional(Type.String()),
  tool_calls: Type.Optional(Type.Array(ToolCall)),
  reasoning: Type.Optional(Nullable(Type.String())),
  reasoning_content: Type.Optional(Nullable(Type.String())),
  reasoning_details: Type.Optional(Type.Array(Type.Object({ type: Type.String() }))),
  refusal: Type.Optional(Nullable(Type.String())),
});
const ToolMessage = Type.Object({
  role: Type.Literal('tool'),
  content: Content,
  tool_call_id: Type.String(),
  name: Type.Optional(Type.String()),
});

export const MessageSchema = Type.Union([
  shared('ChatSystemMessage', SystemMessage),
  shared('ChatUserMessage', UserMessage),
  shared('ChatAssistantMessage', AssistantMessage),
  shared('ChatToolMessage', ToolMessage),
]);

// A function tool (`function` required for it: to-model.ts says so by name), or one of OpenRouter's
// server tools (`openrouter:web_search` with `parameters`, or its `web_search` shorthand).
const Tool = shared(
  'ChatTool',
  Type.Object({
    type: Type.String({ minLength: 1 }),
    function: Type.Optional(
      Type.Object({
        name: Type.String({ pattern: '^[A-Za-z0-9_.:-]{1,64}$' }),
        description: Type.Optional(Type.String()),
        parameters: Type.Optional(Type.Object({})),
        strict: Type.Optional(Nullable(Type.Boolean())),
      }),
    ),
    parameters: Type.Optional(Type.Object({})),
  }),
);

const ToolChoice = Type.Union([
  Type.Literal('none'),
  Type.Literal('auto'),
  Type.Literal('required'),
  Type.Object({ type: Type.Literal('function'), function: Type.Object({ name: Type.String() }) }),
]);

const ProviderList = Nullable(Type.Array(Type.String()));
const ProviderPreferences = Type.Object({
  order: Type.Optional(ProviderList),
  only: Type.Optional(ProviderList),
  ignore: Type.Optional(ProviderList),
  allow_fallbacks: Type.Optional(Nullable(Type.Boolean())),
  require_parameters: Type.Optional(Nullable(Type.Boolean())),
  data_collection: Type.Optional(Nullable(Type.Union([Type.Literal('allow'), Type.Literal('deny')]))),
  sort: Type.Optional(
    Nullable(
      Type.Union([
        Type.String(),
        Type.Object({ by: Type.Optional(Nullable(Type.String())), partition: Type.Optional(Nullable(Type.String())) }),
      ]),
    ),
  ),
  quantizations: Type.Optional(ProviderList),
});

const Effort = Type.Union(['max', 'xhigh', 'high', 'medium', 'low', 'minimal', 'none'].map((e) => Type.Literal(e)));

const Reasoning = Type.Object({
  effort: Type.Optional(Nullable(Effort)),
  max_tokens: Type.Optional(Nullable(Type.Integer({ minimum: 0 }))),
  exclude: Type.Optional(Nullable(Type.Boolean())),
  enabled: Type.Optional(Nullable(Type.Boolean())),
});

export const ChatRequestSchema = Type.Object({
  model: Type.Optional(Type.String({ minLength: 1 })),
  models: Type.Optional(Type.Array(Type.String({ minLength: 1 }))),
  messages: Type.Optional(Type.Array(MessageSchema, { minItems: 1 })),
  prompt: Type.Optional(Type.String()),
  stream: Type.Optional(Nullable(Type.Boolean())),
  stream_options: Type.Optional(Nullable(Type.Object({}))),
  usage: Type.Optional(Nullable(Type.Object({}))),
  max_tokens: Type.Optional(Nullable(Type.Integer({ minimum: 1 }))),
  max_completion_tokens: Type.Optional(Nullable(Type.Integer({ minimum: 1 }))),
  temperature: Type.Optional(Nullable(Type.Number({ minimum: 0, maximum: 2 }))),
  top_p: Type.Optional(Nullable(Type.Number({ minimum: 0, maximum: 1 }))),
  top_k: Type.Optional(Nullable(Type.Integer({ minimum: 0 }))),
  frequency_penalty: Type.Optional(Nullable(Type.Number({ minimum: -2, maximum: 2 }))),
  presence_penalty: Type.Optional(Nullable(Type.Number({ minimum: -2, maximum: 2 }))),
  repetition_penalty: Type.Optional(Nullable(Type.Number({ exclusiveMinimum: 0, maximum: 2 }))),
  min_p: Type.Optional(Nullable(Type.Number({ minimum: 0, maximum: 1 }))),
  top_a: Type.Optional(Nullable(Type.Number({ minimum: 0, maximum: 1 }))),
  seed: Type.Optional(Nullable(Type.Integer())),
  logit_bias: Type.Optional(Nullable(Type.Record(Type.String(), Type.Number({ minimum: -100, maximum: 100 })))),
  logprobs: Type.Optional(Nullable(Type.Boolean())),
  top_logprobs: Type.Optional(Nullable(Type.Integer({ minimum: 0, maximum: 20 }))),
  stop: Type.Optional(Nullable(Type.Union([Type.String(), Type.Array(Type.String(), { maxItems: 4 })]))),
  response_format: Type.Optional(Nullable(Type.Object({ type: Type.String() }))),
  tools: Type.Optional(Nullable(Type.Array(Tool))),
  tool_choice: Type.Optional(Nullable(ToolChoice)),
  parallel_tool_calls: Type.Optional(Nullable(Type.Boolean())),
  reasoning: Type.Optional(Nullable(shared('ChatReasoning', Reasoning))),
  reasoning_effort: Type.Optional(Nullable(Effort)),
  include_reasoning: Type.Optional(Nullable(Type.Boolean())),
  provider: Type.Optional(Nullable(shared('ChatProviderPreferences', ProviderPreferences))),
  user: Type.Optional(Type.String()),
  session_id: Type.Optional(Type.String({ maxLength: 256 })),
  metadata: Type.Optional(Nullable(Type.Record(Type.String({ maxLength: 64 }), Type.String({ maxLength: 512 })))),
  transforms: Type.Optional(Type.Array(Type.String())),
  route: Type.Optional(Nullable(Type.String())),
  n: Type.Optional(Nullable(Type.Integer({ minimum: 1 }))),
});

export type ChatRequest = Static<typeof ChatRequestSchema> & Record<string, unknown>;
export type ChatMessage = Static<typeof MessageSchema>;
export type ProviderPreferences = Static<typeof ProviderPreferences>;
