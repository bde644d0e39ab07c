import { ListErrorCodes } from '../../../src/lists/errors';
import {
  generateListKeyPair,
  keyIdOf,
  parsePrivateKey,
  parsePublicKey,
  signManifest,
  verifyManifestSignature,
} from '../../../src/lists/keys';

describe('list keys and signatures', () => {
  const pair = generateListKeyPair();
  const signing = parsePrivateKey(pair.privateKeyPem);
  const manifest = Buffer.from('{"format":"hashgate-list"}\n');

  it('gives the same key id to the PEM and the raw base64 forms', () => {
    const a = parsePublicKey(pair.publicKeyPem);
    const b = parsePublicKey(pair.publicKeyBase64);
    const c = parsePublicKey(`ed25519:${pair.publicKeyBase64}`);
    expect(a.keyId).toBe(pair.keyId);
    expect(b.keyId).toBe(pair.keyId);
    expect(c.keyId).toBe(pair.keyId);
    expect(keyIdOf(signing.publicKey)).toBe(pair.keyId);
    expect(pair.keyId).toMatch(/^[0-9a-f]{16}$/);
  });

  it('reads a private key from its raw base64 seed', () => {
    const seed = signing.privateKey.export({ format: 'der', type: 'pkcs8' }).subarray(-32).toString('base64');
    expect(parsePrivateKey(seed).keyId).toBe(pair.keyId);
  });

  it('verifies a signature by a trusted key over the exact bytes', () => {
    const sig = signManifest(manifest, [signing]);
    expect(verifyManifestSignature(manifest, sig, [parsePublicKey(pair.publicKeyBase64)])).toBe(pair.keyId);
  });

  it('refuses changed bytes, untrusted keys and malformed signature files', () => {
    const trusted = [parsePublicKey(pair.publicKeyBase64)];
    const sig = signManifest(manifest, [signing]);
    const changed = Buffer.from(manifest);
    changed[2]! ^= 1;
    const other = generateListKeyPair();
    const code = { code: ListErrorCodes.SIGNATURE_INVALID };
    expect(() => verifyManifestSignature(changed, sig, trusted)).toThrow(expect.objectContaining(code));
    expect(() => verifyManifestSignature(manifest, sig, [parsePublicKey(other.publicKeyBase64)])).toThrow(
      /not signed by any/,
    );
    expect(() => verifyManifestSignature(manifest, Buffer.from('nope'), trusted)).toThrow(
      expect.objectContaining(code),
    );
    expect(() =>
      verifyManifestSignature(manifest, Buffer.from('{"format":"x","signatures":[]}'), trusted),
    ).toThrow(expect.objectContaining(code));
  });

  it('accepts a file signed by two keys when either is trusted', () => {
    const second = generateListKeyPair();
    const sig = signManifest(manifest, [signing, parsePrivateKey(second.privateKeyPem)]);
    expect(verifyManifestSignature(manifest, sig, [parsePublicKey(second.publicKeyPem)])).toBe(second.keyId);
  });

  it('refuses keys that are not Ed25519', () => {
    expect(() => parsePublicKey('AAAA')).toThrow(
      expect.objectContaining({ code: ListErrorCodes.KEY_INVALID }),
    );
    expect(() => parsePublicKey('-----BEGIN PUBLIC KEY-----\nxx\n-----END PUBLIC KEY-----')).toThrow(
      expect.objectContaining({ code: ListErrorCodes.KEY_INVALID }),
    );
    expect(() => parsePrivateKey(pair.publicKeyPem)).toThrow(
      expect.objectContaining({ code: ListErrorCodes.KEY_INVALID }),
    );
  });
});
