import { lookup as dnsLookup, type LookupAddress, type LookupOptions } from 'node:dns';
import { BlockList, isIP } from 'node:net';
import type { Agent, request as undiciRequest } from 'undici';
import { ApiError } from '../core/errors.js';

/**
 * Fetching a PDF that a client gave by URL, for `file-parser`. The URL comes from the client, so
 * the fetch is bounded (time, bytes, redirects, http/https only) and, unless the operator allows
 * it, refuses every address that is not on the public internet: loopback, private ranges,
 * link-local (cloud metadata services), unique-local, CGNAT, multicast. The check runs in the
 * connection's own DNS lookup, so the address connected to is the address checked, and a name
 * that resolves differently on a second lookup (DNS rebinding) cannot slip past it.
 */

export interface PdfDownloadSettings {
  /** Largest PDF fetched; reading stops past it. */
  maxBytes: number;
  /** Bound on the whole fetch, redirects and body included (ms). */
  timeoutMs: number;
  /** Fetch from loopback and private addresses too (a gateway whose documents live on its own network). */
  allowPrivateAddresses: boolean;
}

const MAX_REDIRECTS = 5;
/** PDF readers look for the `%PDF-` header within a file's first 1024 bytes. */
const HEADER_WINDOW = 1024;

/** IANA's special-purpose ranges that are not globally reachable. */
const NOT_PUBLIC = new BlockList();
for (const [net, prefix] of [
  ['0.0.0.0', 8], // "this network"
  ['10.0.0.0', 8],
  ['100.64.0.0', 10], // carrier-grade NAT (also some cloud metadata services)
  ['127.0.0.0', 8],
  ['169.254.0.0', 16], // link-local: cloud metadata at 169.254.169.254
  ['172.16.0.0', 12],
  ['192.0.0.0', 24], // IETF protocol assignments
  ['192.0.2.0', 24],
  ['192.88.99.0', 24],
  ['192.168.0.0', 16],
  ['198.18.0.0', 15],
  ['198.51.100.0', 24],
  ['203.0.113.0', 24],
  ['224.0.0.0', 4], // multicast
  ['240.0.0.0', 4], // reserved, broadcast
] as const) {
  NOT_PUBLIC.addSubnet(net, prefix, 'ipv4');
}
for (const [net, prefix] of [
  ['::', 96], // unspecified, loopback, IPv4-compatible
  ['64:ff9b:1::', 48], // local-use NAT64
  ['100::', 64], // discard
  ['2001:db8::', 32], // documentation
  ['fc00::', 7], // unique-local (e.g. fd00:ec2::254, a metadata service)
  ['fe80::', 10], // link-local
  ['fec0::', 10], // site-local
  ['ff00::', 8], // multicast
] as const) {
  NOT_PUBLIC.addSubnet(net, prefix, 'ipv6');
}
// IPv4-mapped IPv6 (::ffff:127.0.0.1) is checked against the IPv4 ranges by BlockList itself;
// NAT64 and 6to4 addresses carry an IPv4 address that is checked here.
const NAT64 = new BlockList();
NAT64.addSubnet('64:ff9b::', 96, 'ipv6');
const SIX_TO_FOUR = new BlockList();
SIX_TO_FOUR.addSubnet('2002::', 16, 'ipv6');

/** An IPv6 address as its eight 16-bit groups. */
function ipv6Groups(address: string): number[] {
  let text = address;
  const dotted = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(text);
  if (dotted) {
    const [a, b, c, d] = dotted.slice(1).map(Number) as [number, number, number, number];
    text = `${text.slice(0, dotted.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head = '', tail] = text.split('::');
  const left = head ? head.split(':') : [];
  const right = tail ? tail.split(':') : [];
  const groups = tail === undefined ? left : [...left, ...Array<string>(8 - left.length - right.length).fill('0'), ...right];
  return groups.map((g) => parseInt(g, 16));
}

const ipv4Of = (high: number, low: number) => `${high >> 8}.${high & 0xff}.${low >> 8}.${low & 0xff}`;

/** Whether an IP address is on the public internet. */
export function isPublicAddress(address: string): boolean {
  const ip = address.replace(/^\[|\]$/g, '').replace(/%.*$/, '');
  const family = isIP(ip);
  if (family === 4) return !NOT_PUBLIC.check(ip, 'ipv4');
  if (family !== 6) return false;
  if (NOT_PUBLIC.check(ip, 'ipv6')) return false;
  if (NAT64.check(ip, 'ipv6')) {
    const g = ipv6Groups(ip);
    return isPublicAddress(ipv4Of(g[6]!, g[7]!));
  }
  if (SIX_TO_FOUR.check(ip, 'ipv6')) {
    const g = ipv6Groups(ip);
    return isPublicAddress(ipv4Of(g[1]!, g[2]!));
  }
  return true;
}

/** Why a host is not fetched from: it is, or resolves to, an address off the public internet. */
class NonPublicAddress extends Error {
  constructor(readonly address: string) {
    super(`it resolves to ${address}, a loopback, private or link-local address, which this server does not fetch from`);
  }
}

type LookupCallback = (err: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void;

/**
 * `net.connect`'s lookup, refusing a name any of whose addresses is not public (the connection
 * then goes to an address this function returned, never to another resolution of the name).
 */
function publicOnlyLookup(hostname: string, options: LookupOptions, callback: LookupCallback): void {
  dnsLookup(hostname, { ...options, all: true }, (err, addresses) => {
    if (err) return callback(err, []);
    const refused = addresses.find((a) => !isPublicAddress(a.address));
    if (refused) return callback(new NonPublicAddress(refused.address), []);
    if (addresses.length === 0) return callback(Object.assign(new Error(`${hostname} has no address`), { code: 'ENOTFOUND' }), []);
    if (options.all) callback(null, addresses);
    else callback(null, addresses[0]!.address, addresses[0]!.family);
  });
}

/** A URL as messages and notes name it: without its query, which may hold a signature. */
export function urlForDisplay(url: string): string {
  try {
    const u = new URL(url);
    const text = `${u.protocol}//${u.host}${u.pathname}`;
    return text.length > 200 ? `${text.slice(0, 200)}…` : text;
  } catch {
    return JSON.stringify(url.length > 200 ? `${url.slice(0, 200)}…` : url);
  }
}

/** The 400 for a URL that gives no PDF: the request is wrong, not the provider. */
const refusal = (url: string, why: string) => new ApiError(400, `plugin file-parser: the file at ${urlForDisplay(url)} ${why}`);

/** What went wrong with a connection or a read, in words. */
function failureOf(err: unknown, signal: AbortSignal, timeoutMs: number): string {
  if (signal.aborted) return `could not be fetched within ${timeoutMs} ms`;
  for (let e: unknown = err; e instanceof Error; e = e.cause) {
    if (e instanceof NonPublicAddress) return `was not fetched: ${e.message}`;
  }
  return `could not be fetched: ${err instanceof Error ? err.message : String(err)}`;
}

export class PdfDownloader {
  private client: Promise<{ agent: Agent; request: typeof undiciRequest }> | null = null;

  constructor(private readonly settings: PdfDownloadSettings) {}

  /**
   * undici's full index (fetch, WebSocket, caches: ~3 MiB of heap, which the upstream transport
   * avoids) is loaded on the first URL to fetch, not by every process. Idle connections close
   * soon, so an unused downloader holds nothing open.
   */
  private http(): Promise<{ agent: Agent; request: typeof undiciRequest }> {
    this.client ??= import('undici').then(({ Agent, request }) => ({
      agent: new Agent({ connect: this.settings.allowPrivateAddresses ? {} : { lookup: publicOnlyLookup }, keepAliveTimeout: 1000, keepAliveMaxTimeout: 1000 }),
      request,
    }));
    return this.client;
  }

  /** The target of one hop: http or https, and (unless allowed) not a non-public address written as an IP. */
  private target(url: string, original: string): URL {
    let u: URL;
    try {
      u = new URL(url);
    } catch {
      throw refusal(original, 'is not a valid URL');
    }
    if (u.protocol !== 'http:' && u.protocol !== 'https:') throw refusal(original, `was not fetched: only http and https URLs are (${u.protocol.replace(/:$/, '')} is not)`);
    // An IP literal skips DNS, so the lookup's check never sees it.
    const host = u.hostname.replace(/^\[|\]$/g, '');
    if (!this.settings.allowPrivateAddresses && isIP(host) !== 0 && !isPublicAddress(host)) throw refusal(original, `was not fetched: ${host} is a loopback, private or link-local address, which this server does not fetch from`);
    return u;
  }

  /** The PDF's bytes; a URL that does not give a PDF is a 400 that says why. */
  async download(url: string): Promise<Buffer> {
    const { maxBytes, timeoutMs } = this.settings;
    const signal = AbortSignal.timeout(timeoutMs);
    let target = this.target(url, url);
    const { agent, request } = await this.http();
    for (let redirects = 0; ; redirects++) {
      let res: Awaited<ReturnType<typeof request>>;
      try {
        res = await request(target, { dispatcher: agent, signal, headers: { accept: 'application/pdf, */*;q=0.1', 'user-agent': 'switchyard-file-parser' } });
      } catch (err) {
        throw refusal(url, failureOf(err, signal, timeoutMs));
      }
      const location = res.headers.location;
      if (res.statusCode >= 300 && res.statusCode < 400 && typeof location === 'string') {
        await res.body.dump().catch(() => undefined);
        if (redirects === MAX_REDIRECTS) throw refusal(url, `was not fetched: more than ${MAX_REDIRECTS} redirects`);
        target = this.target(new URL(location, target).href, url);
        continue;
      }
      if (res.statusCode < 200 || res.statusCode >= 300) {
        await res.body.dump().catch(() => undefined);
        throw refusal(url, `could not be fetched: it answered HTTP ${res.statusCode}`);
      }
      const declared = Number(res.headers['content-length']);
      if (Number.isFinite(declared) && declared > maxBytes) {
        // Not read at all; destroying a body unread makes it emit an error, which has nowhere else to go.
        res.body.once('error', () => undefined).destroy();
        throw refusal(url, `is too large: ${declared} bytes, more than the ${maxBytes} this server fetches`);
      }
      const contentType = String(res.headers['content-type'] ?? '');
      const typedPdf = /^application\/(x-)?pdf\b/i.test(contentType);
      const notPdf = () => refusal(url, `is not a PDF (content-type ${contentType ? `"${contentType.split(';')[0]}"` : 'missing'}, and no %PDF- header)`);
      const chunks: Buffer[] = [];
      let size = 0;
      let checked = typedPdf;
      try {
        for await (const chunk of res.body as AsyncIterable<Buffer>) {
          size += chunk.length;
          if (size > maxBytes) throw refusal(url, `is too large: more than the ${maxBytes} bytes this server fetches`);
          chunks.push(chunk);
          // Whether it is a PDF shows in its first bytes: an HTML page is not read to the end.
          if (!checked && size >= HEADER_WINDOW) {
            if (!hasPdfHeader(Buffer.concat(chunks))) throw notPdf();
            checked = true;
          }
        }
      } catch (err) {
        if (err instanceof ApiError) throw err;
        throw refusal(url, failureOf(err, signal, timeoutMs));
      }
      const bytes = Buffer.concat(chunks);
      if (!checked && !hasPdfHeader(bytes)) throw notPdf();
      return bytes;
    }
  }
}

const hasPdfHeader = (bytes: Buffer) => bytes.subarray(0, HEADER_WINDOW).includes('%PDF-');
