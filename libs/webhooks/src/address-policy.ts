import { isIP } from 'node:net';
import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { promises as dns } from 'node:dns';
import ipaddr from 'ipaddr.js';
import { DomainError } from '@app/domain';

type IPv4 = ipaddr.IPv4;
type IPv6 = ipaddr.IPv6;

/** IANA's global unicast space; everything else in IPv6 is reserved, local or special. */
const GLOBAL_UNICAST_V6 = ipaddr.parseCIDR('2000::/3');
/** RFC 6052 well-known NAT64 prefix: the IPv4 address is the last 32 bits. */
const NAT64_WELL_KNOWN = ipaddr.parseCIDR('64:ff9b::/96');

/** A public IPv4 address: ipaddr.js names no special range for it. */
function isPublicV4(address: IPv4): boolean {
  return address.range() === 'unicast';
}

function v4At(parts: number[], high: number, mask = 0): IPv4 {
  const word = ((parts[high] << 16) | parts[high + 1]) ^ mask;
  return new ipaddr.IPv4([(word >>> 24) & 0xff, (word >>> 16) & 0xff, (word >>> 8) & 0xff, word & 0xff]);
}

/**
 * A public IPv6 address. Forms that carry an IPv4 address are judged by that IPv4 address
 * (every embedded one must be public), since the packet ends up there:
 * IPv4-mapped ::ffff:a.b.c.d and IPv4-translated ::ffff:0:a.b.c.d, NAT64 64:ff9b::a.b.c.d
 * (kept: DNS64 answers for IPv4-only hosts look like that), 6to4 2002:aabb:ccdd::/48 and
 * Teredo 2001:0:<server v4>:…:<client v4 xor ffffffff> (server and client must both be public).
 * Refused outright: the local-use NAT64 prefix 64:ff9b:1::/48 (the operator's own translator, and
 * where the IPv4 sits depends on its prefix length) and the deprecated IPv4-compatible ::a.b.c.d
 * (::/96), which lies outside 2000::/3 like every other non-global range ipaddr.js calls unicast.
 * Anything else must be 'unicast' to ipaddr.js and inside 2000::/3.
 */
function isPublicV6(address: IPv6): boolean {
  if (address.zoneId) return false; // scoped addresses are local by definition
  const parts = address.parts;
  switch (address.range()) {
    case 'ipv4Mapped':
    case 'rfc6145':
      return isPublicV4(v4At(parts, 6));
    case 'rfc6052':
      return address.match(NAT64_WELL_KNOWN) && isPublicV4(v4At(parts, 6));
    case '6to4':
      return isPublicV4(v4At(parts, 1));
    case 'teredo':
      return isPublicV4(v4At(parts, 2)) && isPublicV4(v4At(parts, 6, 0xffffffff));
    case 'unicast':
      return address.match(GLOBAL_UNICAST_V6);
    default:
      return false; // loopback, linkLocal, uniqueLocal, multicast, unspecified, reserved, discard, …
  }
}

/**
 * True unless `address` is a public IPv4/IPv6 address a webhook may reach. Ranges come from
 * ipaddr.js: only its 'unicast' (no special range) counts as public; private, loopback,
 * linkLocal, uniqueLocal, multicast, unspecified, carrierGradeNat, broadcast, reserved,
 * benchmarking, amt, as112 and the rest are refused. Anything that is not an IP address is refused.
 */
export function isPrivateAddress(address: string): boolean {
  if (isIP(address) === 0) return true; // strict: no inet_aton shorthands such as 127.1
  try {
    // ipaddr.js reads the IPv4-compatible text form ::a.b.c.d as ::ffff:a.b.c.d (mapped); this is
    // how libuv prints ::/96 DNS answers, so spell it ::0:a.b.c.d to be judged by its real bits.
    const parsed = ipaddr.parse(address.replace(/^::(?=\d+\.\d+\.\d+\.\d+$)/, '::0:'));
    return parsed.kind() === 'ipv4' ? !isPublicV4(parsed as IPv4) : !isPublicV6(parsed as IPv6);
  } catch {
    return true;
  }
}

/**
 * Outbound webhook targets: public addresses only, unless the host is in WEBHOOK_ALLOWED_HOSTS.
 * Checked when an endpoint is saved and again at connect time (a DNS answer can change).
 */
export class AddressPolicy {
  private readonly allowed: Set<string>;

  constructor(allowedHosts: string[]) {
    this.allowed = new Set(allowedHosts.map((h) => h.trim().toLowerCase()).filter(Boolean));
  }

  private permits(hostOrAddress: string): boolean {
    return this.allowed.has(hostOrAddress.toLowerCase().replace(/^\[|\]$/g, ''));
  }

  /** Throws a field error for the `url` field when the URL may not be called. */
  async checkUrl(raw: string): Promise<URL> {
    let url: URL;
    try {
      url = new URL(raw);
    } catch {
      throw DomainError.validation({ url: ['url must be an absolute http(s) URL'] });
    }
    if (url.protocol !== 'https:' && url.protocol !== 'http:') throw DomainError.validation({ url: ['url must use http or https'] });
    if (url.username || url.password) throw DomainError.validation({ url: ['url must not contain credentials'] });
    const host = url.hostname.replace(/^\[|\]$/g, '');
    if (this.permits(host)) return url;
    const addresses = isIP(host) ? [host] : await resolveAll(host);
    if (addresses.length === 0) throw DomainError.validation({ url: [`url host ${host} does not resolve`] });
    const blocked = addresses.find(isPrivateAddress);
    if (blocked) {
      throw DomainError.validation({
        url: [`url resolves to ${blocked}, a private, loopback or link-local address; allow it with WEBHOOK_ALLOWED_HOSTS`],
      });
    }
    return url;
  }

  /** A net.connect lookup that refuses private answers for hosts that are not allowed. */
  readonly lookup = (
    hostname: string,
    options: object,
    callback: (err: Error | null, address: string | LookupAddress[], family?: number) => void,
  ) => {
    dnsLookup(hostname, { ...options, all: true }, (err, addresses) => {
      if (err) return callback(err, [], 0);
      const list = addresses as LookupAddress[];
      if (!this.permits(hostname)) {
        const blocked = list.find((a) => !this.permits(a.address) && isPrivateAddress(a.address));
        if (blocked) return callback(new Error(`refused to connect to private address ${blocked.address}`), [], 0);
      }
      if ((options as { all?: boolean }).all) return callback(null, list);
      callback(null, list[0].address, list[0].family);
    });
  };

  /** IP-literal URLs never reach lookup: checked here before each request. */
  assertLiteralAllowed(url: URL): void {
    const host = url.hostname.replace(/^\[|\]$/g, '');
    if (isIP(host) && !this.permits(host) && isPrivateAddress(host)) {
      throw new Error(`refused to connect to private address ${host}`);
    }
  }
}

async function resolveAll(host: string): Promise<string[]> {
  const [v4, v6] = await Promise.all([dns.resolve4(host).catch(() => []), dns.resolve6(host).catch(() => [])]);
  if (v4.length || v6.length) return [...v4, ...v6];
  return (await dns.lookup(host, { all: true }).catch(() => [])).map((a) => a.address);
}
