// The salt AD uses to derive an account's AES keys from its password (MS-KILE §3.1.1.2, as
// observed on Windows and Samba DCs; the KDC announces it in PA-ETYPE-INFO2, RFC 4120 §5.2.7.5):
// - computer account NAME$: uppercase realm + "host" + lowercase NAME (no $) + "." + lowercase realm
//   (the DNS domain, which for AD equals the realm).
// - user account: uppercase realm + sAMAccountName exactly as stored (case-sensitive).
// An account renamed after its last password set keeps the old salt until the next set: callers
// can then pass the salt the KDC reports instead (kinit with KRB5_TRACE prints it).
import { InvalidInputError } from "../errors";

export function isComputerAccount(samAccountName: string): boolean {
  return samAccountName.endsWith("$");
}

/** The AES salt of an AD account, computer (NAME$) or user. */
export function adAccountSalt(realm: string, samAccountName: string): string {
  if (!realm || /[\s@/\\]/.test(realm)) {
    throw new InvalidInputError("realm", `"${realm}" is not a realm name`, "give the AD DNS domain in upper case, e.g. CORP.EXAMPLE", { code: "INVALID_REALM" });
  }
  const name = samAccountName.replace(/^[^\\]*\\/, ""); // DOMAIN\NAME$ → NAME$
  if (!name || /[@/]/.test(name)) {
    throw new InvalidInputError("samAccountName", `"${samAccountName}" is not a sAMAccountName`, "give NAME$ (computer) or the user's logon name", { code: "INVALID_SAM_ACCOUNT_NAME" });
  }
  const upper = realm.toUpperCase();
  if (isComputerAccount(name)) {
    return `${upper}host${name.slice(0, -1).toLowerCase()}.${realm.toLowerCase()}`;
  }
  return `${upper}${name}`;
}
