// AES in CBC mode with ciphertext stealing, the variant RFC 3962 §5 defines for Kerberos: plain
// CBC over the zero-padded message, then the last two ciphertext blocks swapped and the (now last)
// one truncated to the length of the final plaintext block. The swap happens even when the message
// is a whole number of blocks (NIST SP 800-38A addendum "CS3"). Exactly one block is plain AES.
import { createCipheriv, createDecipheriv } from "node:crypto";

const BLOCK = 16;

function algorithm(key: Uint8Array, mode: "cbc" | "ecb"): string {
  if (key.length !== 16 && key.length !== 32) throw new RangeError(`AES key of ${key.length} octets (16 or 32 expected)`);
  return `aes-${key.length * 8}-${mode}`;
}

function cbc(encrypt: boolean, key: Uint8Array, iv: Uint8Array, data: Uint8Array): Buffer {
  const c = encrypt ? createCipheriv(algorithm(key, "cbc"), key, iv) : createDecipheriv(algorithm(key, "cbc"), key, iv);
  c.setAutoPadding(false);
  return Buffer.concat([c.update(data), c.final()]);
}

function decryptBlock(key: Uint8Array, block: Uint8Array): Buffer {
  const d = createDecipheriv(algorithm(key, "ecb"), key, null);
  d.setAutoPadding(false);
  return Buffer.concat([d.update(block), d.final()]);
}

function checkInput(data: Uint8Array, iv: Uint8Array): void {
  if (iv.length !== BLOCK) throw new RangeError(`IV of ${iv.length} octets`);
  // RFC 3962 §5 leaves messages shorter than a block undefined; Kerberos never makes one (the
  // confounder alone is a block).
  if (data.length < BLOCK) throw new RangeError(`AES-CTS input of ${data.length} octets is shorter than one block`);
}

export function ctsEncrypt(key: Uint8Array, plaintext: Uint8Array, iv: Uint8Array = Buffer.alloc(BLOCK)): Buffer {
  checkInput(plaintext, iv);
  if (plaintext.length === BLOCK) return cbc(true, key, iv, plaintext);
  const blocks = Math.ceil(plaintext.length / BLOCK);
  const lastLen = plaintext.length - (blocks - 1) * BLOCK;
  const padded = Buffer.alloc(blocks * BLOCK);
  padded.set(plaintext);
  const c = cbc(true, key, iv, padded);
  const head = c.subarray(0, (blocks - 2) * BLOCK);
  const penultimate = c.subarray((blocks - 2) * BLOCK, (blocks - 1) * BLOCK);
  const last = c.subarray((blocks - 1) * BLOCK);
  return Buffer.concat([head, last, penultimate.subarray(0, lastLen)]);
}

export function ctsDecrypt(key: Uint8Array, ciphertext: Uint8Array, iv: Uint8Array = Buffer.alloc(BLOCK)): Buffer {
  checkInput(ciphertext, iv);
  if (ciphertext.length === BLOCK) return cbc(false, key, iv, ciphertext);
  const blocks = Math.ceil(ciphertext.length / BLOCK);
  const lastLen = ciphertext.length - (blocks - 1) * BLOCK;
  const head = ciphertext.subarray(0, (blocks - 2) * BLOCK);
  // What the sender moved forward: the final CBC block, whole.
  const finalBlock = ciphertext.subarray((blocks - 2) * BLOCK, (blocks - 1) * BLOCK);
  // What it kept last: the first lastLen octets of the penultimate CBC block.
  const stolen = ciphertext.subarray((blocks - 1) * BLOCK);
  // D(final) = (last plaintext, zero-padded) XOR penultimate CBC block: its tail past lastLen is
  // the tail of the penultimate block, and XOR with the stolen head gives the last plaintext.
  const d = decryptBlock(key, finalBlock);
  const penultimate = Buffer.concat([stolen, d.subarray(lastLen)]);
  const lastPlain = Buffer.alloc(lastLen);
  for (let i = 0; i < lastLen; i++) lastPlain[i] = d[i] ^ stolen[i];
  const front = cbc(false, key, iv, Buffer.concat([head, penultimate]));
  return Buffer.concat([front, lastPlain]);
}
