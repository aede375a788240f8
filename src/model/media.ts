import type { MediaSource } from './request.js';

/**
 * `data:<media type>[;params][;base64],<payload>` → a base64 source (percent-encoded payloads are
 * re-encoded), or null when the string is not a data URL.
 */
export function parseDataUrl(url: string): { mediaType: string; data: string } | null {
  if (!url.startsWith('data:')) return null;
  const m = /^data:([^;,]*)((?:;[^;,]*)*),(.*)$/s.exec(url);
  if (!m) return null;
  const base64 = /;base64/i.test(m[2]);
  let data = m[3];
  if (!base64) {
    try {
      data = Buffer.from(decodeURIComponent(data), 'utf8').toString('base64');
    } catch {
      data = Buffer.from(data, 'utf8').toString('base64');
    }
  }
  return { mediaType: m[1] || 'application/octet-stream', data };
}

/** A URL as a media source: data URLs become inline base64, anything else stays a URL. */
export function sourceFromUrl(url: string): MediaSource {
  const inline = parseDataUrl(url);
  return inline ? { kind: 'base64', mediaType: inline.mediaType, data: inline.data } : { kind: 'url', url };
}

/** A source as a URL (inline bytes as a data URL), for upstreams that take URLs only. */
export function sourceToUrl(source: MediaSource): string | null {
  switch (source.kind) {
    case 'url':
      return source.url;
    case 'base64':
      return `data:${source.mediaType};base64,${source.data}`;
    case 'text':
      return `data:${source.mediaType};base64,${Buffer.from(source.text, 'utf8').toString('base64')}`;
    default:
      return null;
  }
}

const EXT_MIME: Record<string, string> = {
  pdf: 'application/pdf',
  txt: 'text/plain',
  md: 'text/markdown',
  html: 'text/html',
  csv: 'text/csv',
  json: 'application/json',
  png: 'image/png',
  jpg: 'image/jpeg',
  jpeg: 'image/jpeg',
  gif: 'image/gif',
  webp: 'image/webp',
  mp3: 'audio/mpeg',
  wav: 'audio/wav',
  mp4: 'video/mp4',
  webm: 'video/webm',
  mov: 'video/quicktime',
};

/** The media type a file name or URL suggests by its extension. */
export function guessMediaType(nameOrUrl: string | undefined): string | undefined {
  if (!nameOrUrl) return undefined;
  const m = /\.([a-z0-9]+)(?:[?#].*)?$/i.exec(nameOrUrl);
  return m ? EXT_MIME[m[1].toLowerCase()] : undefined;
}
