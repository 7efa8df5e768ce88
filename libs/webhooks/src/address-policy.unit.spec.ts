import { DomainError, ErrorCode } from '@app/domain';
import { AddressPolicy, isPrivateAddress } from './address-policy';

// Teredo: 2001:0:<server IPv4>:<flags>:<port xor ffff>:<client IPv4 xor ffffffff>.
// Server 65.54.227.120 = 4136:e378; client 127.0.0.1 → 80ff:fffe, 93.184.216.34 → a247:27dd.

const REFUSED: Array<[string, string]> = [
  // IPv4 special ranges
  ['127.0.0.1', 'loopback'],
  ['127.255.0.9', 'loopback'],
  ['10.1.2.3', 'private 10/8'],
  ['172.16.0.1', 'private 172.16/12'],
  ['172.31.255.255', 'private 172.16/12'],
  ['192.168.0.10', 'private 192.168/16'],
  ['169.254.169.254', 'link-local (cloud metadata)'],
  ['100.64.0.1', 'carrier-grade NAT'],
  ['0.0.0.0', 'unspecified'],
  ['0.1.2.3', 'this network 0/8'],
  ['255.255.255.255', 'broadcast'],
  ['224.0.0.1', 'multicast'],
  ['240.0.0.1', 'reserved 240/4'],
  ['192.0.0.8', 'IETF protocol assignments'],
  ['192.0.2.1', 'TEST-NET-1'],
  ['198.18.0.1', 'benchmarking'],
  ['198.51.100.1', 'TEST-NET-2'],
  ['203.0.113.1', 'TEST-NET-3'],
  ['192.88.99.1', '6to4 relay anycast'],
  ['192.175.48.1', 'AS112'],
  ['192.52.193.1', 'AMT'],
  // IPv6 special ranges
  ['::1', 'loopback'],
  ['::', 'unspecified'],
  ['fe80::1', 'link-local'],
  ['fc00::1', 'unique local'],
  ['fd12:3456::1', 'unique local'],
  ['ff02::1', 'multicast'],
  ['fec0::1', 'deprecated site-local'],
  ['100::1', 'discard'],
  ['2001:db8::1', 'documentation'],
  ['2001:2::1', 'benchmarking'],
  ['2001:20::1', 'ORCHIDv2'],
  ['3fff::1', 'documentation (RFC 9637)'],
  ['5f00::1', 'segment routing'],
  ['4000::1', 'outside 2000::/3'],
  // IPv4-compatible (::/96, deprecated): refused whatever it embeds
  ['::127.0.0.1', 'IPv4-compatible loopback'],
  ['::7f00:1', 'IPv4-compatible loopback, as URL parsing writes it'],
  ['::10.0.0.1', 'IPv4-compatible private'],
  ['::93.184.216.34', 'IPv4-compatible, even of a public address'],
  // IPv4-mapped and -translated
  ['::ffff:127.0.0.1', 'mapped loopback'],
  ['::ffff:7f00:1', 'mapped loopback, hex'],
  ['::ffff:10.0.0.1', 'mapped private'],
  ['::ffff:169.254.169.254', 'mapped link-local'],
  ['::ffff:0:7f00:1', 'IPv4-translated loopback'],
  // NAT64
  ['64:ff9b::7f00:1', 'NAT64 of loopback'],
  ['64:ff9b::127.0.0.1', 'NAT64 of loopback, dotted'],
  ['64:ff9b::a00:1', 'NAT64 of private'],
  ['64:ff9b:1::5db8:d822', 'local-use NAT64 prefix, refused outright'],
  // 6to4
  ['2002:7f00:1::', '6to4 of loopback'],
  ['2002:c0a8:1::1', '6to4 of 192.168.0.1'],
  ['2002:a9fe:a9fe::1', '6to4 of 169.254.169.254'],
  // Teredo
  ['2001:0:4136:e378:8000:63bf:80ff:fffe', 'Teredo with a loopback client'],
  ['2001:0:a00:1:8000:63bf:a247:27dd', 'Teredo with a private server'],
  // not addresses
  ['localhost', 'a host name'],
  ['', 'empty'],
  ['127.1', 'inet_aton shorthand'],
  ['999.1.1.1', 'out of range'],
  ['fe80::1%eth0', 'scoped'],
];

const ALLOWED: Array<[string, string]> = [
  ['93.184.216.34', 'public IPv4'],
  ['8.8.8.8', 'public IPv4'],
  ['1.1.1.1', 'public IPv4'],
  ['2606:2800:220:1:248:1893:25c8:1946', 'public IPv6'],
  ['2a00:1450:4001:82a::200e', 'public IPv6'],
  ['::ffff:93.184.216.34', 'mapped public'],
  ['::ffff:5db8:d822', 'mapped public, hex'],
  ['64:ff9b::93.184.216.34', 'NAT64 (DNS64) of a public address'],
  ['2002:5db8:d822::1', '6to4 of a public address'],
  ['2001:0:4136:e378:8000:63bf:a247:27dd', 'Teredo with public server and client'],
];

describe('isPrivateAddress', () => {
  it.each(REFUSED)('refuses %s (%s)', (address) => {
    expect(isPrivateAddress(address)).toBe(true);
  });

  it.each(ALLOWED)('allows %s (%s)', (address) => {
    expect(isPrivateAddress(address)).toBe(false);
  });
});

describe('AddressPolicy with IP-literal URLs', () => {
  const policy = new AddressPolicy([]);

  async function refusal(url: string): Promise<DomainError> {
    const error = await policy.checkUrl(url).then(
      () => null,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(DomainError);
    return error as DomainError;
  }

  it.each([
    'http://[::127.0.0.1]/',
    'http://[::7f00:1]/',
    'http://[64:ff9b::7f00:1]/',
    'http://[2002:7f00:1::]/',
    'http://[::ffff:127.0.0.1]:8080/hook',
    'http://[2001:0:4136:e378:8000:63bf:80ff:fffe]/',
    'http://[fd00::1]/',
    'http://127.0.0.1:3000/hook',
    'http://0x7f000001/', // URL parsing turns this into 127.0.0.1
    'http://2130706433/',
    'http://10.0.0.1/',
    'https://169.254.169.254/latest/meta-data',
  ])('checkUrl refuses %s with a field error on url', async (url) => {
    const error = await refusal(url);
    expect(error.code).toBe(ErrorCode.ValidationFailed);
    expect((error.details.errors as Record<string, string[]>).url[0]).toMatch(/private, loopback or link-local/);
  });

  it('checkUrl sees the address URL parsing wrote, not the one typed', () => {
    expect(new URL('http://[::127.0.0.1]/').hostname).toBe('[::7f00:1]');
    expect(new URL('http://[::ffff:127.0.0.1]/').hostname).toBe('[::ffff:7f00:1]');
  });

  it.each([
    'http://93.184.216.34/hook',
    'https://[2606:2800:220:1:248:1893:25c8:1946]/hook',
    'https://[::ffff:93.184.216.34]/hook',
    'https://[64:ff9b::5db8:d822]/hook',
  ])('checkUrl allows %s', async (url) => {
    await expect(policy.checkUrl(url)).resolves.toBeInstanceOf(URL);
  });

  it('WEBHOOK_ALLOWED_HOSTS lets a listed literal through, and only that one', async () => {
    const allowing = new AddressPolicy(['127.0.0.1', '::1']);
    await expect(allowing.checkUrl('http://127.0.0.1:9/x')).resolves.toBeInstanceOf(URL);
    await expect(allowing.checkUrl('http://[::1]:9/x')).resolves.toBeInstanceOf(URL);
    await expect(allowing.checkUrl('http://[::7f00:1]:9/x')).rejects.toBeInstanceOf(DomainError);
    expect(() => allowing.assertLiteralAllowed(new URL('http://127.0.0.1:9/x'))).not.toThrow();
  });

  it.each(['http://[::127.0.0.1]/', 'http://[64:ff9b::7f00:1]/', 'http://[2002:7f00:1::]/', 'http://[::ffff:7f00:1]/', 'http://10.0.0.1/'])(
    'assertLiteralAllowed refuses %s at connect time',
    (url) => {
      expect(() => policy.assertLiteralAllowed(new URL(url))).toThrow(/refused to connect to private address/);
    },
  );

  it('assertLiteralAllowed lets public literals and host names through (host names go to lookup)', () => {
    expect(() => policy.assertLiteralAllowed(new URL('http://93.184.216.34/'))).not.toThrow();
    expect(() => policy.assertLiteralAllowed(new URL('https://[2606:2800:220:1:248:1893:25c8:1946]/'))).not.toThrow();
    expect(() => policy.assertLiteralAllowed(new URL('https://example.com/'))).not.toThrow();
  });

  it('lookup refuses a host name that resolves to loopback (localhost, from the hosts file)', async () => {
    const error = await new Promise<Error | null>((resolve) => policy.lookup('localhost', {}, (err) => resolve(err)));
    expect(error?.message).toMatch(/refused to connect to private address/);
  });
});
