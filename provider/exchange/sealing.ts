// Sealing: how a secret crosses into the PowerShell session without being readable in script text
// (which PowerShell's script block logging records). Each value is sealed (AES-256-CBC, then
// HMAC-SHA256: encrypt-then-MAC) under a random key made for each shell process; the module
// (ConvertFrom-EkSealed in ExchangeKerberos.psm1) reads the key once at import from EK_SESSION_KEY,
// removes the variable, checks the tag and only then decrypts. See ARCHITECTURE.md, "Where each
// concern lives".
//
// How the key gets there: inside the channel, never in a process's arguments or environment, nor in
// any text a log records. The shell makes an RSA key pair that never leaves it and answers the
// public half; the session encrypts the sealing key to it (RSA-OAEP) and sends the ciphertext; the
// shell decrypts it into its own EK_SESSION_KEY just before the module's import reads and clears it
// (channel.ts: KEY_REQUEST_SCRIPT, keyDeliveryScript). Script block logging, a transcript on the
// far side, sshd at LogLevel DEBUG3 and a process listing on either end see public keys and
// ciphertext only. The same handoff serves the local process and the ssh transport: an
// environment variable would not cross ssh without SendEnv/AcceptEnv, which sshd logs with its
// value (debug2 "Setting env …", on Windows too).
import { constants, createCipheriv, createHmac, createPublicKey, publicEncrypt, randomBytes } from "node:crypto";

/** The variable the module reads its sealing key from at import, set inside the shell by the key
 * handoff (never by this process: a shell's environment is not where the key travels). */
export const SESSION_KEY_ENV = "EK_SESSION_KEY";

/** A parameter value that must never be readable in script text (sealed per call, scrubbed from errors). */
export class Secret {
  constructor(readonly value: string) {}
}

/** What a Secret becomes on the wire. */
export interface Sealed {
  sealed: string;
}

/** A session's sealing key: 32 bytes for AES-256, then 32 for HMAC-SHA256. */
export const SEAL_KEY_BYTES = 64;

export function newSealKey(): Buffer {
  return randomBytes(SEAL_KEY_BYTES);
}

/** The least RSA key the handoff accepts from a shell (the key request asks for 2048 bits). */
const MIN_RSA_BITS = 2048;

/**
 * The sealing key encrypted to the shell's RSA public key (base64 of .NET's big-endian modulus and
 * exponent, from ExportParameters), with OAEP and SHA-1: what RSACryptoServiceProvider.Decrypt(data,
 * $true) undoes in .NET Framework 4.x and .NET alike. Returns the ciphertext as base64.
 */
export function encryptSealKey(key: Buffer, modulusB64: string, exponentB64: string): string {
  const n = Buffer.from(modulusB64, "base64");
  const bits = n.length * 8 - Math.clz32(n[0] ?? 0) + 24;
  if (bits < MIN_RSA_BITS) throw new Error(`the shell answered an RSA key of ${bits} bits; the key handoff takes ${MIN_RSA_BITS} or more`);
  const publicKey = createPublicKey({ key: { kty: "RSA", n: n.toString("base64url"), e: Buffer.from(exponentB64, "base64").toString("base64url") }, format: "jwk" });
  return publicEncrypt({ key: publicKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: "sha1" }, key).toString("base64");
}

/**
 * Encrypt-then-MAC: AES-256-CBC with PKCS#7 padding (the defaults of .NET's Aes on the PowerShell
 * side) under the key's first half, a fresh IV per value, then HMAC-SHA256 over IV ‖ ciphertext
 * under its second half (HMACSHA256 is in Windows PowerShell 5.1's .NET Framework too):
 * base64(iv ‖ ciphertext ‖ tag). The module checks the tag before it decrypts, so a wrong key or
 * any changed byte is refused, never "opened" into garbage.
 */
export function sealSecret(key: Buffer, value: string): Sealed {
  if (key.length !== SEAL_KEY_BYTES) throw new Error(`a sealing key has ${SEAL_KEY_BYTES} bytes, not ${key.length}`);
  const iv = randomBytes(16);
  const c = createCipheriv("aes-256-cbc", key.subarray(0, 32), iv);
  const body = Buffer.concat([iv, c.update(value, "utf8"), c.final()]);
  const tag = createHmac("sha256", key.subarray(32)).update(body).digest();
  return { sealed: Buffer.concat([body, tag]).toString("base64") };
}

/** Replaces every Secret in `params` by its sealed form; collects the secrets for scrubbing. */
export function sealParams(params: unknown, key: Buffer, found: string[] = []): unknown {
  if (params instanceof Secret) {
    found.push(params.value);
    return sealSecret(key, params.value);
  }
  if (Array.isArray(params)) return params.map((v) => sealParams(v, key, found));
  if (params !== null && typeof params === "object") {
    return Object.fromEntries(Object.entries(params).map(([k, v]) => [k, sealParams(v, key, found)]));
  }
  return params;
}

/** Every Secret's value in `params` (to scrub them from whatever Exchange says back). */
export function secretsIn(params: unknown): string[] {
  if (params instanceof Secret) return [params.value];
  if (Array.isArray(params)) return params.flatMap(secretsIn);
  if (params !== null && typeof params === "object") return Object.values(params).flatMap(secretsIn);
  return [];
}
