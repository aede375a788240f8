/* eslint-disable @typescript-eslint/no-explicit-any -- JSON bodies under test */
/** Request pieces and look-ups shared by the test files (the tools the recordings use, generation look-up). */
import type { Gateway } from './gateway.js';

/** The `weather` tool exactly as the recorded clients send it. */
export const WEATHER_TOOL = {
  type: 'function',
  function: {
    name: 'weather',
    strict: false,
    description: 'Get weather information for a location',
    parameters: { properties: { location: { description: 'the city', type: 'string' } }, required: ['location'], type: 'object' },
  },
};

/** The recorded two-integer tools (`add`, `multiply`). */
export const numberTool = (name: string, description: string) => ({
  type: 'function',
  function: {
    name,
    strict: false,
    description,
    parameters: {
      properties: { a: { description: 'first number', type: 'integer' }, b: { description: 'second number', type: 'integer' } },
      required: ['a', 'b'],
      type: 'object',
    },
  },
});

/** `GET /generation` data for an id, waiting briefly for the record to appear. */
export async function fetchGeneration(gw: Gateway, id: string, headers: Record<string, string> = {}): Promise<any> {
  for (let i = 0; i < 50; i++) {
    const res = await fetch(`${gw.baseUrl}/generation?id=${id}`, { headers });
    if (res.status === 200) return ((await res.json()) as any).data;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`generation ${id} never recorded`);
}
