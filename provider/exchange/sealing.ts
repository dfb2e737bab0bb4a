// Sealing: how a secret crosses into the PowerShell session without being readable in script text
// (which PowerShell's script block logging records). Each value is sealed (AES-256-CBC, then
// HMAC-SHA256: encrypt-then-MAC) under a random key made for each shell process and handed to it in
// its environment (EK_SESSION_KEY), never in its arguments; the module (ConvertFrom-EkSealed in
// ExchangeKerberos.psm1) reads the key once, removes the variable, checks the tag and only then
// decrypts. See ARCHITECTURE.md, "Where each concern lives".
import { createCipheriv, createHmac, randomBytes } from "node:crypto";

/** The environment variable that hands a shell process its sealing key. */
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
