// Doctor check 5: the service ticket for an SPN decrypts with a key derived from the ASA password
// — exactly what every Exchange server holding the ASA credential must do when a client presents
// the ticket. The result names the cause and the fix; it never contains the password or a key.
import { readCcacheFile } from "./ccache";
import { stringToKey } from "./crypto";
import { ETYPE, etypeName, isAesSha1 } from "./etype";
import { KerberosFormatError, UnsupportedEtypeError } from "./errors";
import { causeOf, KerberosRolloutError } from "../errors";
import { formatPrincipal, parsePrincipal, samePrincipal } from "./principal";
import { adAccountSalt } from "./salt";
import { Ticket, decodeTicket, decryptTicket } from "./ticket";

export interface VerifyServiceTicketArgs {
  /** A FILE: ccache holding a ticket for `spn` (what `tickets.ts` or an admin's `kvno` wrote). */
  ccachePath?: string;
  /** Or the DER Ticket itself (RFC 4120 §5.3). One of the two is required. */
  ticketBytes?: Uint8Array;
  /** "HTTP/outlook.corp.example", realm optional. */
  spn: string;
  /** The ASA password from the stack's secret. */
  asaPassword: string;
  /** "EXASA$" or "CORP\\EXASA$" (a user account without $ works too: its salt differs). */
  asaSamAccountName: string;
  /** "CORP.EXAMPLE". */
  realm: string;
  /** AD's msDS-KeyVersionNumber for the ASA, when known: explains a ticket older than the password. */
  kvno?: number;
  /** The salt the KDC announces (PA-ETYPE-INFO2), when it differs from the computed one (renamed account). */
  salt?: string;
}

export type VerifyCode =
  | "OK"
  /** Decrypting failed the integrity check: AD's key is not derived from this password. */
  | "KRB_AP_ERR_MODIFIED"
  /** Same failure, but the ticket's kvno is older than AD's: the ticket predates the password set. */
  | "STALE_TICKET"
  | "RC4_TICKET"
  | "UNSUPPORTED_ETYPE"
  | "NO_TICKET"
  | "WRONG_SERVICE"
  | "MALFORMED";

export interface VerifyServiceTicketResult {
  ok: boolean;
  code: VerifyCode;
  spn: string;
  etype?: number;
  etypeName?: string;
  /** The key version the KDC encrypted the ticket with. */
  kvno?: number;
  /** From the decrypted ticket: who it was issued to, and its times. */
  client?: string;
  authTime?: Date;
  endTime?: Date;
  cause?: string;
  fix?: string;
}

function fail(base: Partial<VerifyServiceTicketResult> & { spn: string }, code: VerifyCode, cause: string, fix: string): VerifyServiceTicketResult {
  return { ...base, ok: false, code, cause, fix };
}

/** The ticket for `spn` from a ccache, or why there is none. */
async function ticketFromCcache(path: string, spn: string, realm: string): Promise<Uint8Array | string> {
  const cache = await readCcacheFile(path);
  const want = parsePrincipal(spn, realm);
  const match = cache.credentials.find((c) => samePrincipal(c.server, want));
  if (match) return match.ticket;
  const held = cache.credentials.map((c) => formatPrincipal(c.server)).join(", ") || "nothing";
  return `the credential cache ${path} holds no ticket for ${formatPrincipal(want)} (it holds ${held})`;
}

/** Verifies that the service ticket for `args.spn` decrypts with the key AD derives from the ASA
 * password (key usage 2, RFC 4120 §7.5.1). Resolves to a result; rejects only on I/O errors. */
export async function verifyServiceTicket(args: VerifyServiceTicketArgs): Promise<VerifyServiceTicketResult> {
  const base = { spn: args.spn };
  let bytes: Uint8Array;
  if (args.ticketBytes) {
    bytes = args.ticketBytes;
  } else if (args.ccachePath) {
    let found: Uint8Array | string;
    try {
      found = await ticketFromCcache(args.ccachePath, args.spn, args.realm);
    } catch (e) {
      if (e instanceof KerberosFormatError) return fail(base, "MALFORMED", causeOf(e), "obtain a fresh ticket with kvno into a FILE: cache");
      throw e;
    }
    if (typeof found === "string") return fail(base, "NO_TICKET", found, `obtain one: kvno ${args.spn}`);
    bytes = found;
  } else {
    return fail(base, "NO_TICKET", "no ticket was given (neither ccachePath nor ticketBytes)", `obtain one: kvno ${args.spn}`);
  }
  return verifyTicketBytes(Buffer.from(bytes), args);
}

/** The synchronous core of `verifyServiceTicket`, for a DER Ticket in hand. */
export function verifyTicketBytes(bytes: Buffer, args: Omit<VerifyServiceTicketArgs, "ccachePath" | "ticketBytes">): VerifyServiceTicketResult {
  const asa = args.asaSamAccountName;
  let ticket: Ticket;
  try {
    ticket = decodeTicket(bytes);
  } catch (e) {
    if (e instanceof KerberosFormatError) return fail({ spn: args.spn }, "MALFORMED", `the ticket for ${args.spn} does not decode: ${causeOf(e)}`, "obtain a fresh ticket with kvno");
    throw e;
  }
  const { etype, kvno } = ticket.encPart;
  const base = { spn: args.spn, etype, etypeName: etypeName(etype), kvno };
  const want = parsePrincipal(args.spn, args.realm);
  const got = { ...ticket.sname, realm: ticket.realm };
  if (!samePrincipal(got, want)) {
    return fail(base, "WRONG_SERVICE", `the ticket is for ${formatPrincipal(got)}, not ${formatPrincipal(want)}`, `obtain a ticket for the SPN itself: kvno ${args.spn}`);
  }
  if (etype === ETYPE.RC4_HMAC) {
    return fail(
      base,
      "RC4_TICKET",
      `the KDC issued an RC4 ticket (rc4-hmac, etype 23) for ${args.spn}: ${asa} has no AES keys or its msDS-SupportedEncryptionTypes lacks AES; RC4 is being retired (KB 5073381)`,
      `set msDS-SupportedEncryptionTypes to 24 (AES128+AES256) on ${asa} (AD derives AES keys at every password set from the 2008 domain functional level on); only if the KDC still issues RC4 then, set its password again, on every server and in AD`,
    );
  }
  if (!isAesSha1(etype)) {
    return fail(base, "UNSUPPORTED_ETYPE", `the ticket for ${args.spn} uses ${etypeName(etype)} (etype ${etype}), which Exchange's ASA does not use and this check cannot decrypt`, `set msDS-SupportedEncryptionTypes to 24 (AES128+AES256) on ${asa}`);
  }
  let salt: string;
  try {
    salt = args.salt ?? adAccountSalt(args.realm, asa);
  } catch (e) {
    return fail(base, "MALFORMED", e instanceof KerberosRolloutError ? causeOf(e) : e instanceof Error ? e.message : String(e), "give the ASA's sAMAccountName (NAME$) and the realm");
  }
  let key: Buffer;
  try {
    key = stringToKey(etype, args.asaPassword, salt);
  } catch (e) {
    if (e instanceof UnsupportedEtypeError) return fail(base, "UNSUPPORTED_ETYPE", e.message, `set msDS-SupportedEncryptionTypes to 24 on ${asa}`);
    throw e;
  }
  const result = decryptTicket(ticket, { etype, value: key });
  key.fill(0);
  switch (result.kind) {
    case "decrypted": {
      const p = result.part;
      return {
        ...base,
        ok: true,
        code: "OK",
        client: formatPrincipal({ ...p.cname, realm: p.crealm }),
        authTime: p.authTime,
        endTime: p.endTime,
      };
    }
    case "wrong-key":
      if (args.kvno !== undefined && kvno !== undefined && kvno < args.kvno) {
        return fail(
          base,
          "STALE_TICKET",
          `the ticket for ${args.spn} was issued for key version ${kvno} of ${asa}, AD is at ${args.kvno}: it predates the last password set`,
          "purge cached tickets (klist purge on Windows, kdestroy here) and check again with a fresh ticket",
        );
      }
      return fail(
        base,
        "KRB_AP_ERR_MODIFIED",
        `KRB_AP_ERR_MODIFIED: the server's key does not match the ticket: the ASA password on the server differs from AD's (the ${etypeName(etype)} ticket for ${args.spn}, key version ${kvno ?? "?"}, does not decrypt with the key derived from the stack's password for ${asa} and salt ${salt})`,
        `set the same password on ${asa} in AD and on every server (roll it with the stack, or RollAlternateServiceAccountPassword.ps1), then klist purge on the clients`,
      );
    case "unsupported-etype":
    case "etype-mismatch":
      return fail(base, "UNSUPPORTED_ETYPE", `the ticket for ${args.spn} uses ${etypeName(etype)}, which this check cannot decrypt`, `set msDS-SupportedEncryptionTypes to 24 on ${asa}`);
  }
}
