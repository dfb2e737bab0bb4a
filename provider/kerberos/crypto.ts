// The "simplified profile" of RFC 3961 §5.3 as instantiated by RFC 3962 for
// aes128-cts-hmac-sha1-96 (17) and aes256-cts-hmac-sha1-96 (18): string-to-key, key derivation,
// and authenticated encryption/decryption for a key usage number. Keys are plain Buffers that the
// caller must never log; nothing here logs or keeps them.
import { createCipheriv, createHmac, pbkdf2Sync, randomBytes, timingSafeEqual } from "node:crypto";
import { ctsDecrypt, ctsEncrypt } from "./aes-cts";
import { AesSha1Etype, aesKeyLength, etypeName, isAesSha1 } from "./etype";
import { IntegrityError, UnsupportedEtypeError } from "./errors";
import { nfold } from "./nfold";

const BLOCK = 16;
/** RFC 3962 §6: HMAC-SHA1 truncated to 96 bits. */
const MAC_LENGTH = 12;
/** RFC 3962 §4: the default s2kparams are 00 00 10 00 (4096 iterations); AD always uses them. */
export const DEFAULT_ITERATIONS = 4096;

/** An encryption key with its type (RFC 4120 §5.2.9 EncryptionKey). */
export interface EncryptionKey {
  etype: number;
  value: Buffer;
}

function requireAes(etype: number): AesSha1Etype {
  if (!isAesSha1(etype)) {
    throw new UnsupportedEtypeError(etype, `${etypeName(etype)} (etype ${etype}) is not implemented; only aes128/aes256-cts-hmac-sha1-96 are`);
  }
  return etype;
}

function aesEncryptBlock(key: Uint8Array, block: Uint8Array): Buffer {
  const c = createCipheriv(`aes-${key.length * 8}-ecb`, key, null);
  c.setAutoPadding(false);
  return Buffer.concat([c.update(block), c.final()]);
}

/** DR(Key, Constant) then random-to-key (identity for AES, RFC 3962 §6) = DK (RFC 3961 §5.1).
 * Each block is E(Key, previous block) with a fresh zero IV, i.e. plain AES of one block. */
export function deriveKey(baseKey: Uint8Array, constant: Uint8Array): Buffer {
  const length = baseKey.length;
  const blocks: Buffer[] = [];
  let block = constant.length === BLOCK ? Buffer.from(constant) : nfold(constant, BLOCK);
  for (let have = 0; have < length; have += BLOCK) {
    block = aesEncryptBlock(baseKey, block);
    blocks.push(block);
  }
  return Buffer.concat(blocks).subarray(0, length);
}

/** The derivation constant for a key usage (RFC 3961 §5.3): usage as 4 octets big-endian
 * followed by 0x99 (checksum Kc), 0xAA (encryption Ke) or 0x55 (integrity Ki). */
function usageConstant(usage: number, kind: 0x99 | 0xaa | 0x55): Buffer {
  const c = Buffer.alloc(5);
  c.writeUInt32BE(usage >>> 0, 0);
  c[4] = kind;
  return c;
}

/** RFC 3962 §4 string-to-key: DK(random-to-key(PBKDF2-HMAC-SHA1(password, salt, iterations,
 * keylength)), "kerberos"). The password is taken as UTF-8 (RFC 3961 §3). */
export function stringToKey(etype: number, password: string | Uint8Array, salt: string | Uint8Array, iterations = DEFAULT_ITERATIONS): Buffer {
  const aes = requireAes(etype);
  if (!Number.isInteger(iterations) || iterations < 1 || iterations > 0xffffffff) {
    throw new RangeError(`string-to-key iteration count ${iterations}`);
  }
  const pw = typeof password === "string" ? Buffer.from(password, "utf8") : password;
  const s = typeof salt === "string" ? Buffer.from(salt, "utf8") : salt;
  const tkey = pbkdf2Sync(pw, s, iterations, aesKeyLength(aes), "sha1");
  return deriveKey(tkey, Buffer.from("kerberos", "latin1"));
}

/** The usage-specific keys of the simplified profile (RFC 3961 §5.3). */
export function usageKeys(key: Uint8Array, usage: number): { ke: Buffer; ki: Buffer; kc: Buffer } {
  return {
    ke: deriveKey(key, usageConstant(usage, 0xaa)),
    ki: deriveKey(key, usageConstant(usage, 0x55)),
    kc: deriveKey(key, usageConstant(usage, 0x99)),
  };
}

function mac(ki: Uint8Array, data: Uint8Array): Buffer {
  return createHmac("sha1", ki).update(data).digest().subarray(0, MAC_LENGTH);
}

function checkKey(key: EncryptionKey): AesSha1Etype {
  const aes = requireAes(key.etype);
  if (key.value.length !== aesKeyLength(aes)) {
    throw new RangeError(`${etypeName(aes)} key of ${key.value.length} octets (${aesKeyLength(aes)} expected)`);
  }
  return aes;
}

/** RFC 3961 §5.3 encryption: AES-CTS(Ke, confounder | plaintext) | HMAC-SHA1-96(Ki, confounder |
 * plaintext), zero IV. The confounder is random unless a test pins it. */
export function encrypt(key: EncryptionKey, usage: number, plaintext: Uint8Array, confounder: Uint8Array = randomBytes(BLOCK)): Buffer {
  checkKey(key);
  if (confounder.length !== BLOCK) throw new RangeError(`confounder of ${confounder.length} octets`);
  const { ke, ki } = usageKeys(key.value, usage);
  const inner = Buffer.concat([confounder, plaintext]);
  return Buffer.concat([ctsEncrypt(ke, inner), mac(ki, inner)]);
}

/** RFC 3961 §5.3 decryption. Throws IntegrityError when the HMAC does not match, which is how a
 * wrong key shows: AES-CTS itself decrypts to garbage without complaint. */
export function decrypt(key: EncryptionKey, usage: number, ciphertext: Uint8Array): Buffer {
  const aes = checkKey(key);
  if (ciphertext.length < BLOCK + MAC_LENGTH) {
    throw new IntegrityError(`${etypeName(aes)} ciphertext of ${ciphertext.length} octets is shorter than confounder and checksum`);
  }
  const { ke, ki } = usageKeys(key.value, usage);
  const body = ciphertext.subarray(0, ciphertext.length - MAC_LENGTH);
  const expected = ciphertext.subarray(ciphertext.length - MAC_LENGTH);
  const inner = ctsDecrypt(ke, body);
  if (!timingSafeEqual(mac(ki, inner), expected)) {
    throw new IntegrityError(`${etypeName(aes)} integrity check failed for key usage ${usage}: the key is not the one the message was encrypted with`);
  }
  return inner.subarray(BLOCK);
}
