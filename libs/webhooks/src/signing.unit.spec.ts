import { Webhook, WebhookVerificationError } from 'standardwebhooks';
import { generateSecret, sign, signatureHeader } from './signing';

/*
 * Standard Webhooks signing: "v1," + base64 HMAC-SHA256 of "<id>.<timestamp>.<body>" keyed with the
 * base64-decoded part of a "whsec_" secret. The reference implementation (the standardwebhooks
 * package, as receivers use it) must accept what we send.
 */

const ID = 'msg_2mJx9Qp4';
const BODY = JSON.stringify({ type: 'opportunity.won', data: { id: 'opp-1', value_minor: 15_000_000, name: 'Acme – Ünïcode 🚀' } });
const nowSeconds = () => Math.floor(Date.now() / 1000);

/** What a receiver does with our three headers. */
function receiverVerifies(secret: string, headers: { id: string; timestamp: number; signature: string }, body: string): unknown {
  return new Webhook(secret).verify(body, {
    'webhook-id': headers.id,
    'webhook-timestamp': String(headers.timestamp),
    'webhook-signature': headers.signature,
  });
}

describe('generateSecret', () => {
  it('is "whsec_" + base64 of 32 random bytes', () => {
    const secret = generateSecret();
    expect(secret).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);
    expect(Buffer.from(secret.slice('whsec_'.length), 'base64')).toHaveLength(32);
  });

  it('is different every time', () => {
    const secrets = new Set(Array.from({ length: 50 }, generateSecret));
    expect(secrets.size).toBe(50);
  });

  it('is accepted as a key by the reference implementation', () => {
    expect(() => new Webhook(generateSecret())).not.toThrow();
  });
});

describe('sign', () => {
  it('matches the Standard Webhooks reference test vector', () => {
    expect(sign('whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw', 'msg_p5jXN8AQM9LWM0D4loKWxJek', 1614265330, '{"test": 2432232314}')).toBe(
      'v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=',
    );
  });

  it('is what the reference implementation computes for the same message (UTF-8 body)', () => {
    const secret = generateSecret();
    const timestamp = nowSeconds();
    expect(sign(secret, ID, timestamp, BODY)).toBe(new Webhook(secret).sign(ID, new Date(timestamp * 1000), BODY));
  });

  it('a receiver holding the secret verifies it and gets the parsed body back', () => {
    const secret = generateSecret();
    const timestamp = nowSeconds();
    const signature = sign(secret, ID, timestamp, BODY);
    expect(receiverVerifies(secret, { id: ID, timestamp, signature }, BODY)).toEqual(JSON.parse(BODY));
  });

  it('the "whsec_" prefix is optional: the key is the base64 after it', () => {
    const secret = generateSecret();
    expect(sign(secret.slice('whsec_'.length), ID, 1, BODY)).toBe(sign(secret, ID, 1, BODY));
  });

  it('signs id, timestamp and body: changing any changes the signature', () => {
    const secret = generateSecret();
    const base = sign(secret, ID, 1_700_000_000, BODY);
    expect(sign(secret, `${ID}x`, 1_700_000_000, BODY)).not.toBe(base);
    expect(sign(secret, ID, 1_700_000_001, BODY)).not.toBe(base);
    expect(sign(secret, ID, 1_700_000_000, `${BODY} `)).not.toBe(base);
    expect(sign(generateSecret(), ID, 1_700_000_000, BODY)).not.toBe(base);
  });

  it.each([
    ['another secret', { secret: 'other' }],
    ['a changed body', { body: BODY.replace('opp-1', 'opp-2') }],
    ['another message id', { id: 'msg_other' }],
    ['another timestamp', { timestamp: 'shifted' }],
  ])('the reference implementation refuses it with %s', (_, change) => {
    const secret = generateSecret();
    const timestamp = nowSeconds();
    const signature = sign(secret, ID, timestamp, BODY);
    const receiverSecret = 'secret' in change ? generateSecret() : secret;
    const headers = {
      id: 'id' in change ? change.id : ID,
      timestamp: 'timestamp' in change ? timestamp - 1 : timestamp,
      signature,
    };
    const body = 'body' in change ? change.body : BODY;
    expect(() => receiverVerifies(receiverSecret, headers, body)).toThrow(WebhookVerificationError);
  });
});

describe('signatureHeader (one signature per active secret)', () => {
  it('one secret: exactly its signature', () => {
    const secret = generateSecret();
    expect(signatureHeader([secret], ID, 5, BODY)).toBe(sign(secret, ID, 5, BODY));
  });

  it('rotation overlap: new and previous secret, space-separated, newest first', () => {
    const [current, previous] = [generateSecret(), generateSecret()];
    const header = signatureHeader([current, previous], ID, 5, BODY);
    expect(header.split(' ')).toEqual([sign(current, ID, 5, BODY), sign(previous, ID, 5, BODY)]);
  });

  it('during the overlap a receiver holding either secret verifies; one holding neither does not', () => {
    const [current, previous] = [generateSecret(), generateSecret()];
    const timestamp = nowSeconds();
    const signature = signatureHeader([current, previous], ID, timestamp, BODY);
    expect(receiverVerifies(current, { id: ID, timestamp, signature }, BODY)).toEqual(JSON.parse(BODY));
    expect(receiverVerifies(previous, { id: ID, timestamp, signature }, BODY)).toEqual(JSON.parse(BODY));
    expect(() => receiverVerifies(generateSecret(), { id: ID, timestamp, signature }, BODY)).toThrow('No matching signature found');
  });

  it('after the overlap (current secret only) a receiver still on the previous secret is refused', () => {
    const [current, previous] = [generateSecret(), generateSecret()];
    const timestamp = nowSeconds();
    const signature = signatureHeader([current], ID, timestamp, BODY);
    expect(() => receiverVerifies(previous, { id: ID, timestamp, signature }, BODY)).toThrow(WebhookVerificationError);
  });

  it('no secret: an empty header', () => {
    expect(signatureHeader([], ID, 5, BODY)).toBe('');
  });
});
