// Doctor check 4: real service tickets, one per SPN, for the doctor's user, from the KDC the caller
// chose (doctor/ticket-source.ts), by kdc-client.ts: a TGT with the user's password, then one TGS
// exchange per SPN, each named with the realm. No program is started and no credential cache is
// written: the TGT, its session key and the tickets live in memory. The tickets feed check 5
// (verify.ts); the namespace's session key, when asked for, feeds check 8 (an AP-REQ of our own).
import { KerberosRolloutError, UnreachableError } from "../errors";
import { EncryptionKey } from "./crypto";
import { etypeName } from "./etype";
import { describeSkew, forgetTgt, isTicketFor, KdcClientOptions, KdcRefusal, requestServiceTicket, requestTgt } from "./kdc-client";
import { KdcRoute } from "./kdc-transport";
import { formatPrincipal, parsePrincipal, Principal } from "./principal";
import { decodeTicket } from "./ticket";

export interface TicketRequest {
  /** Who asks, as a principal (doctor/ticket-source.ts makes it from kerberosUser). */
  client: Principal;
  password: string;
  realm: string;
  /** The KDCs to ask, or the KDC proxy that is the only way to them. */
  route: KdcRoute;
  /** Per KDC tried; default 10 s. */
  timeoutMs?: number;
}

export type TicketFailureCode =
  | "SPN_UNKNOWN"
  | "SPN_NOT_UNIQUE"
  | "NO_COMMON_ETYPE"
  | "CLOCK_SKEW"
  | "KDC_UNREACHABLE"
  | "NOT_IN_CACHE"
  | "KVNO_FAILED";

export type TicketOutcome =
  | {
      spn: string;
      ok: true;
      /** The DER Ticket: encrypted for the service, safe to hand to verify.ts. */
      ticket: Buffer;
      server: string;
      etype: number;
      etypeName: string;
      kvno?: number;
      endTime: Date;
      /** Only when asked for (`sessionKeys`): the ticket's session key and the client, to build an
       * AP-REQ (doctor check 8). Secret: zero it after use, never report it. */
      session?: { key: EncryptionKey; client: Principal };
    }
  | { spn: string; ok: false; code: TicketFailureCode; cause: string; fix: string };

/** How the TGT was had: who, from which KDC, with which key, and the KDC's clock. */
export interface Logon {
  client: string;
  kdc: string;
  /** The etype of the user's key the KDC chose (RC4 only when it offered nothing else). */
  replyKeyEtype: number;
  /** The KDC's clock minus this machine's, in ms: every authenticator is taken on the KDC's clock. */
  clockOffsetMs: number;
}

export interface TicketResult {
  logon: Logon;
  outcomes: TicketOutcome[];
}

function refusal(spn: string, realm: string, e: unknown, clockOffsetMs: number): Extract<TicketOutcome, { ok: false }> {
  const out = (code: TicketFailureCode, cause: string, fix: string): Extract<TicketOutcome, { ok: false }> => ({ spn, ok: false, code, cause, fix });
  if (e instanceof KdcRefusal) {
    const name = e.krbError.name;
    switch (e.krbError.code) {
      case 7:
        return out("SPN_UNKNOWN", `no account in ${realm} holds the SPN ${spn} (${name})`, `add it to the ASA: setspn -S ${spn} DOMAIN\\ASA$ (or let the stack's SPN resource do it)`);
      case 8:
        return out("SPN_NOT_UNIQUE", `more than one account holds ${spn}, so the KDC cannot choose a key (${name})`, `find the holders (setspn -Q ${spn}) and remove it from every account but the ASA`);
      case 14:
        return out("NO_COMMON_ETYPE", `the KDC has no key of an allowed encryption type for ${spn} (${name})`, "set msDS-SupportedEncryptionTypes to 24 on the ASA and set its password again so AD derives AES keys");
      case 37:
        return out("CLOCK_SKEW", `the KDC refused the request as too far from its clock (${name}), though the doctor had corrected for this machine's clock being ${describeSkew(clockOffsetMs)} the KDC's`, "synchronise this machine's clock with the domain controller (w32tm /resync on Windows, chrony on Linux)");
    }
    return out("KVNO_FAILED", e.reason, `see the KDC's log for this request (on a Windows DC: the Security log, event 4769, for ${spn})`);
  }
  if (e instanceof UnreachableError && e.code === "KDC_UNREACHABLE") return out("KDC_UNREACHABLE", e.reason, e.fix ?? "check the network path to the KDC");
  const why = e instanceof KerberosRolloutError ? e.reason : e instanceof Error ? e.message : String(e);
  return out("KVNO_FAILED", `the ticket for ${spn} could not be had: ${why}`, "see the KDC's log for this request");
}

/** Doctor check 4: one service ticket per SPN, as `req.client`. Rejects (typed, from errors.ts)
 * only when no ticket at all can be had (the AS exchange fails); per-SPN failures are outcomes. */
export async function getServiceTickets(req: TicketRequest, spns: string[], opts: { sessionKeys?: boolean } = {}): Promise<TicketResult> {
  const client: KdcClientOptions = { realm: req.realm, route: req.route, timeoutMs: req.timeoutMs };
  const tgt = await requestTgt(client, req.client, req.password);
  try {
    const outcomes: TicketOutcome[] = [];
    for (const spn of spns) {
      const want = parsePrincipal(spn, req.realm);
      let t;
      try {
        t = await requestServiceTicket(client, tgt, want);
      } catch (e) {
        outcomes.push(refusal(spn, req.realm, e, tgt.clockOffsetMs));
        continue;
      }
      if (!isTicketFor(t, want)) {
        t.sessionKey.value.fill(0);
        outcomes.push({ spn, ok: false, code: "NOT_IN_CACHE", cause: `the KDC answered the request for ${formatPrincipal(want)} with a ticket for ${formatPrincipal(t.service)}`, fix: "check that the SPN is registered exactly as asked (setspn -Q), not only an alias of it" });
        continue;
      }
      const decoded = decodeTicket(t.ticket);
      outcomes.push({
        spn,
        ok: true,
        ticket: t.ticket,
        server: formatPrincipal(t.service),
        etype: decoded.encPart.etype,
        etypeName: etypeName(decoded.encPart.etype),
        kvno: decoded.encPart.kvno,
        endTime: t.endTime,
        ...(opts.sessionKeys ? { session: { key: t.sessionKey, client: tgt.client } } : {}),
      });
      if (!opts.sessionKeys) t.sessionKey.value.fill(0);
    }
    return { logon: { client: formatPrincipal(tgt.client), kdc: tgt.kdc, replyKeyEtype: tgt.replyKeyEtype, clockOffsetMs: tgt.clockOffsetMs }, outcomes };
  } finally {
    forgetTgt(tgt);
  }
}
