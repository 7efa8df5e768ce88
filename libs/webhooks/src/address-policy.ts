import { BlockList, isIP } from 'node:net';
import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { promises as dns } from 'node:dns';
import { DomainError } from '@app/domain';

/** Private, loopback, link-local and other non-public ranges a webhook must not reach. */
const BLOCKED = new BlockList();
for (const [net, prefix] of [
  ['0.0.0.0', 8],
  ['10.0.0.0', 8],
  ['100.64.0.0', 10],
  ['127.0.0.0', 8],
  ['169.254.0.0', 16],
  ['172.16.0.0', 12],
  ['192.0.0.0', 24],
  ['192.168.0.0', 16],
  ['198.18.0.0', 15],
  ['224.0.0.0', 4],
  ['240.0.0.0', 4],
] as const) {
  BLOCKED.addSubnet(net, prefix, 'ipv4');
}
for (const [net, prefix] of [
  ['::', 128],
  ['::1', 128],
  ['fc00::', 7],
  ['fe80::', 10],
  ['ff00::', 8],
] as const) {
  BLOCKED.addSubnet(net, prefix, 'ipv6');
}

export function isPrivateAddress(address: string): boolean {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped) return BLOCKED.check(mapped[1], 'ipv4');
  const family = isIP(address);
  if (family === 0) return true;
  return BLOCKED.check(address, family === 4 ? 'ipv4' : 'ipv6');
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
