import type { Annotation } from '../../model/response.js';

/** An annotation in OpenRouter's message shape (url_citation as OpenAI writes it; file as OpenRouter's PDF parsing does). */
export function annotationJson(a: Annotation): Record<string, unknown> {
  if (a.type === 'file') return { type: 'file', file: { hash: a.hash, ...(a.name !== undefined ? { name: a.name } : {}), content: a.content } };
  const citation: Record<string, unknown> = { url: a.url, title: a.title ?? '' };
  if (a.content !== undefined) citation.content = a.content;
  citation.start_index = a.startIndex;
  citation.end_index = a.endIndex;
  return { type: 'url_citation', url_citation: citation };
}
