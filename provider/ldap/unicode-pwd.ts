// The password attribute AD accepts over LDAP ([MS-ADTS] §3.1.1.3.1.5.1): the password wrapped in
// double quotes, encoded UTF-16LE. Write-only; the DC accepts it only over an encrypted connection.
import { randomInt } from "node:crypto";

export function encodeUnicodePwd(password: string): Buffer {
  return Buffer.from(`"${password}"`, "utf16le");
}

/** Microsoft's RollAlternateServiceAccountPassword.ps1 generates 73-character ASA passwords. */
export const GENERATED_PASSWORD_LENGTH = 73;

const LOWER = "abcdefghijkmnopqrstuvwxyz";
const UPPER = "ABCDEFGHJKLMNPQRSTUVWXYZ";
const DIGIT = "23456789";
// No quotes, backslash, `$`, backtick or whitespace: the password travels through PowerShell
// credentials, keytab tools and shells on the admin's side; 73 characters give ~450 bits anyway.
const SYMBOL = "!#%&()*+,-./:;<=>?@[]^_{|}~";

/**
 * A random password of `length` characters with all four character classes, so it passes AD's
 * complexity rule whatever the account name (the name rule only bites on 3+ character runs of
 * the sAMAccountName, vanishingly unlikely at this length, and checked anyway).
 */
export function generatePassword(length = GENERATED_PASSWORD_LENGTH, accountName = ""): string {
  const all = LOWER + UPPER + DIGIT + SYMBOL;
  for (;;) {
    const chars = [LOWER, UPPER, DIGIT, SYMBOL].map((set) => set[randomInt(set.length)]);
    while (chars.length < length) chars.push(all[randomInt(all.length)]);
    for (let i = chars.length - 1; i > 0; i--) {
      const j = randomInt(i + 1);
      [chars[i], chars[j]] = [chars[j], chars[i]];
    }
    const pw = chars.join("");
    const name = accountName.replace(/\$$/, "").toLowerCase();
    if (name.length >= 3 && pw.toLowerCase().includes(name)) continue;
    return pw;
  }
}
