// A Kerberos client in TypeScript: the AS exchange (RFC 4120 §3.1) with the user's password and the
// TGS exchange (§3.3) for a service, over kdc-transport.ts. No program is started, nothing is
// written to disk: the TGT and its session key live in memory only.
//
// AS: a first AS-REQ without pre-authentication learns the salt, s2kparams and etype the KDC wants
// for the user (KDC_ERR_PREAUTH_REQUIRED's METHOD-DATA: ETYPE-INFO2, else ETYPE-INFO, §5.2.7);
// the second carries PA-ENC-TIMESTAMP (§5.2.7.2, key usage 1) under the key derived from the
// password with them; the AS-REP's enc-part decrypts with that key (usage 3). The client asks for
// AES256, AES128, then RC4 (cipher.ts): a KDC answers with the first it holds a key for, so RC4 is
// used only where the account has nothing else, and the result says so (`replyKeyEtype`).
// TGS: a TGS-REQ whose PA-TGS-REQ is an AP-REQ with the TGT and an authenticator (usage 7) holding
// a keyed checksum of the request body (usage 6); the TGS-REP's enc-part decrypts with the TGT's
// session key (usage 8). The service is named with its realm (sname and realm of the request body).
//
// Clock (MIT's kdc_timesync): the KDC's time comes with its first KRB-ERROR (stime, susec); the
// pre-authentication timestamp is taken on that clock, and a KRB_AP_ERR_SKEW answer resets it from
// that error's own stime and tries once more. Once the AS-REP decrypts (so it is the KDC's), the
// offset becomes its authtime minus this machine's time (get_in_tkt.c verify_as_reply), and every
// later authenticator — TGS-REQs, and the caller's own AP-REQs — is taken on that clock.
import { randomBytes, randomInt } from "node:crypto";
import { AccessDeniedError, KerberosRolloutError, NotFoundError, UnreachableError } from "../errors";
import { CLIENT_ETYPES, cipherFor } from "./cipher";
import { EncryptionKey } from "./crypto";
import { IntegrityError, KerberosFormatError } from "./errors";
import {
  EncKdcRepPart,
  EtypeInfo,
  KDC_OPTIONS,
  KEY_USAGE,
  KdcRep,
  KrbError,
  MSG_TYPE,
  PA_TYPE,
  decodeEncKdcRepPart,
  decodeEtypeInfo,
  decodeKdcReply,
  decodeMethodData,
  encodeApReq,
  encodeAuthenticator,
  encodeKdcReq,
  encodeKdcReqBody,
  encodePaEncTsEnc,
  paEncTimestamp,
} from "./kdc-messages";
import { KdcRoute, sendToKdc } from "./kdc-transport";
import { formatPrincipal, NAME_TYPE, Principal, samePrincipal } from "./principal";

/** What the client asks for: AD caps a TGT at 10 hours by default (MS-KILE's MaxTicketAge). */
const TICKET_LIFETIME_MS = 10 * 3600_000;
/** RFC 4120 §1.7's usual allowance; AD's "Maximum tolerance for computer clock synchronization". */
export const CLOCK_SKEW_ALLOWANCE_MS = 300_000;

export interface KdcClientOptions {
  realm: string;
  route: KdcRoute;
  /** Per KDC tried (not used for a proxy, which has its own). */
  timeoutMs?: number;
  /** The etypes to offer, in order; default AES256, AES128, RC4. */
  etypes?: number[];
  /** This machine's clock, in ms (tests pin it). */
  now?: () => number;
}

/** The TGT and its session key. Secret: wipe `sessionKey` with `forgetTgt` when done. */
export interface Tgt {
  client: Principal;
  ticket: Buffer;
  sessionKey: EncryptionKey;
  endTime: Date;
  /** The KDC's clock minus this machine's, in ms, from the AS-REP (0 when they agree). */
  clockOffsetMs: number;
  /** The etype of the key the AS-REP was encrypted with: the user's own key. */
  replyKeyEtype: number;
  /** Who answered the AS exchange. */
  kdc: string;
}

export interface ServiceTicket {
  service: Principal;
  /** DER Ticket, encrypted for the service. */
  ticket: Buffer;
  /** Secret: the caller wipes it. */
  sessionKey: EncryptionKey;
  endTime: Date;
}

/** A KRB-ERROR the KDC answered with, as a typed error (code: the errors' family, below). */
export class KdcRefusal extends KerberosRolloutError {
  static readonly defaultCode = "KDC_REQUEST_REFUSED";
  readonly krbError: KrbError;

  constructor(krbError: KrbError, reason: string, fix?: string) {
    super(reason, fix, { code: "KDC_REQUEST_REFUSED" });
    this.krbError = krbError;
  }
}

function nonce(): number {
  return randomBytes(4).readUInt32BE(0) & 0x7fffffff;
}

function krbErrorText(e: KrbError): string {
  return `${e.name}${e.eText ? `: ${e.eText}` : ""}`;
}

/** "1200 s ahead of" / "90 s behind": this machine against the KDC, from the KDC's offset. */
export function describeSkew(offsetMs: number): string {
  const s = Math.round(Math.abs(offsetMs) / 1000);
  return offsetMs < 0 ? `${s} s ahead of` : `${s} s behind`;
}

function offsetFrom(e: KrbError, localMs: number): number | undefined {
  return e.stime ? e.stime.getTime() + Math.floor((e.susec ?? 0) / 1000) - localMs : undefined;
}

/** The typed error for a KRB-ERROR answering an AS-REQ (every code the doctor names: docs/reference/error-codes.md). */
function asRefusal(user: string, realm: string, e: KrbError, offsetMs: number): KerberosRolloutError {
  const what = `${krbErrorText(e)} from the KDC`;
  switch (e.code) {
    case 6:
      return new NotFoundError(`the KDC of ${realm} does not know the user ${user} (${what})`, `check the user name and the realm ${realm}`, { code: "KDC_UNKNOWN_USER" });
    case 24:
      return new AccessDeniedError(`the KDC refused the password of ${user} (${what})`, "set the right password for the doctor's user in the stack config", { code: "KDC_PASSWORD_REFUSED" });
    case 12:
    case 18:
    case 23:
      return new AccessDeniedError(`the account ${user} cannot log on (${what}: disabled, locked out, expired, or outside its logon hours)`, "enable/unlock the account or renew its password in AD", { code: "KDC_LOGON_DENIED" });
    case 37:
      return new UnreachableError(
        `this machine's clock is ${describeSkew(offsetMs)} the KDC's, and the KDC refused the corrected time too (${what})`,
        "synchronise this machine's clock with the domain controller (w32tm /resync on Windows, chrony or systemd-timesyncd on Linux)",
        { code: "CLOCK_SKEW" },
      );
    case 68:
      return new KdcRefusal(e, `${user} belongs to another realm${e.crealm ? ` (${e.crealm})` : ""}, which the client does not follow (${what})`, `give the user in the realm ${realm}, as user@${realm.toLowerCase()}`);
    default:
      return new KdcRefusal(e, `the KDC of ${realm} refused the logon of ${user} (${what})`, "see the KDC's event log for this logon");
  }
}

/** The salt, s2kparams and etype to derive the reply key with: the first entry of ETYPE-INFO2 (or
 * ETYPE-INFO) whose etype the client offered, else the default salt (realm + name, §4). */
function replyKeyInfo(padata: { type: number; value: Buffer }[], offered: number[]): EtypeInfo | undefined {
  for (const type of [PA_TYPE.ETYPE_INFO2, PA_TYPE.ETYPE_INFO]) {
    const pa = padata.find((p) => p.type === type);
    if (!pa) continue;
    const usable = decodeEtypeInfo(pa).find((i) => offered.includes(i.etype));
    if (usable) return usable;
  }
  return undefined;
}

function defaultSalt(client: Principal): string {
  return `${client.realm}${client.components.join("")}`;
}

async function exchange(o: KdcClientOptions, message: Buffer): Promise<{ reply: ReturnType<typeof decodeKdcReply>; via: string }> {
  const answer = await sendToKdc(o.route, o.realm, message, o.timeoutMs);
  return { reply: decodeKdcReply(answer.reply), via: answer.via };
}

/** The AS exchange for `client` with `password`. Rejects with a typed error (docs/reference/error-codes.md):
 * KDC_UNKNOWN_USER, KDC_PASSWORD_REFUSED, KDC_LOGON_DENIED, CLOCK_SKEW, KDC_UNREACHABLE,
 * KDC_REQUEST_REFUSED, KERBEROS_FORMAT or ETYPE_NOT_IMPLEMENTED. */
export async function requestTgt(o: KdcClientOptions, client: Principal, password: string): Promise<Tgt> {
  const now = o.now ?? Date.now;
  const etypes = o.etypes ?? CLIENT_ETYPES;
  const user = formatPrincipal(client);
  const enterprise = client.nameType === NAME_TYPE.ENTERPRISE;
  const krbtgt: Principal = { nameType: NAME_TYPE.SRV_INST, components: ["krbtgt", o.realm], realm: o.realm };
  const request = (padata: { type: number; value: Buffer }[], offsetMs: number): { message: Buffer; nonce: number } => {
    const n = nonce();
    const body = encodeKdcReqBody({
      options: enterprise ? KDC_OPTIONS.CANONICALIZE : 0,
      cname: client,
      realm: o.realm,
      sname: krbtgt,
      till: new Date(now() + offsetMs + TICKET_LIFETIME_MS),
      nonce: n,
      etypes,
    });
    return { message: encodeKdcReq(MSG_TYPE.AS_REQ, padata, body), nonce: n };
  };

  let offsetMs = 0;
  let sent = request([], 0);
  let { reply, via } = await exchange(o, sent.message);
  let info: EtypeInfo | undefined;
  let key: EncryptionKey | undefined;
  let skewRetried = false;
  try {
    for (;;) {
      if (reply.kind === "rep") break;
      const e = reply.error;
      offsetMs = offsetFrom(e, now()) ?? offsetMs;
      if (e.code === 25 && !key) {
        info = replyKeyInfo(e.eData ? decodeMethodData(e.eData) : [], etypes) ?? { etype: etypes[0] };
        key = cipherFor(info.etype).stringToKey(password, info.salt ?? defaultSalt(client), info.s2kparams);
      } else if (e.code === 37 && key && !skewRetried) {
        skewRetried = true;
      } else {
        throw asRefusal(user, o.realm, e, offsetMs);
      }
      const at = new Date(now() + offsetMs);
      const ts = encodePaEncTsEnc(new Date(Math.floor(at.getTime() / 1000) * 1000), (at.getTime() % 1000) * 1000);
      sent = request([paEncTimestamp(key.etype, cipherFor(key.etype).encrypt(key, KEY_USAGE.PA_ENC_TIMESTAMP, ts))], offsetMs);
      ({ reply, via } = await exchange(o, sent.message));
    }
    const rep = reply.rep;
    if (rep.msgType !== MSG_TYPE.AS_REP) throw new KerberosFormatError("AS-REP", "the KDC answered an AS-REQ with a TGS-REP");
    // A KDC that needs no pre-authentication answers the first request: the key then follows the
    // ETYPE-INFO2 in the AS-REP's padata (§5.4.2), else the enc-part's etype and the default salt.
    if (!key || key.etype !== rep.encPart.etype) {
      info = replyKeyInfo(rep.padata, [rep.encPart.etype]) ?? { etype: rep.encPart.etype };
      key?.value.fill(0);
      key = cipherFor(rep.encPart.etype).stringToKey(password, info.salt ?? defaultSalt(client), info.s2kparams);
    }
    let part: EncKdcRepPart;
    try {
      part = decodeEncKdcRepPart(cipherFor(key.etype).decrypt(key, KEY_USAGE.AS_REP_ENC_PART, rep.encPart.cipher));
    } catch (e) {
      if (e instanceof IntegrityError) {
        throw new AccessDeniedError(`the KDC's answer for ${user} does not decrypt with the key from the password (the password is wrong)`, "set the right password for the doctor's user in the stack config", { code: "KDC_PASSWORD_REFUSED" });
      }
      throw e;
    }
    if (part.nonce !== sent.nonce) throw new KerberosFormatError("AS-REP", "the nonce of the reply is not the request's: it answers another request");
    return {
      client: { ...rep.cname, realm: rep.crealm },
      ticket: rep.ticket,
      sessionKey: part.key,
      endTime: part.endTime,
      // MIT's verify_as_reply: authtime minus now, once the reply is proven to be the KDC's.
      clockOffsetMs: part.authTime.getTime() - Math.floor(now() / 1000) * 1000,
      replyKeyEtype: key.etype,
      kdc: via,
    };
  } finally {
    key?.value.fill(0);
  }
}

/** The TGS exchange for `service` (with its realm). Resolves to the ticket, or rejects: KdcRefusal
 * (its `krbError` tells why: S_PRINCIPAL_UNKNOWN, ETYPE_NOSUPP, SKEW…), KDC_UNREACHABLE, or a
 * format error. */
export async function requestServiceTicket(o: KdcClientOptions, tgt: Tgt, service: Principal): Promise<ServiceTicket> {
  const now = o.now ?? Date.now;
  const at = now() + tgt.clockOffsetMs;
  const n = nonce();
  const body = encodeKdcReqBody({ options: 0, realm: service.realm, sname: service, till: new Date(at + TICKET_LIFETIME_MS), nonce: n, etypes: o.etypes ?? CLIENT_ETYPES });
  const cipher = cipherFor(tgt.sessionKey.etype);
  const authenticator = encodeAuthenticator({
    client: tgt.client,
    cksum: cipher.checksum(tgt.sessionKey, KEY_USAGE.TGS_REQ_AUTH_CKSUM, body),
    ctime: new Date(Math.floor(at / 1000) * 1000),
    cusec: randomInt(0, 1_000_000),
  });
  const apReq = encodeApReq(tgt.ticket, tgt.sessionKey, cipher.encrypt(tgt.sessionKey, KEY_USAGE.TGS_REQ_AUTHENTICATOR, authenticator));
  const { reply } = await exchange(o, encodeKdcReq(MSG_TYPE.TGS_REQ, [{ type: PA_TYPE.TGS_REQ, value: apReq }], body));
  const spn = formatPrincipal(service);
  if (reply.kind === "error") {
    const e = reply.error;
    throw new KdcRefusal(e, `the KDC refused a ticket for ${spn} (${krbErrorText(e)})`);
  }
  const rep: KdcRep = reply.rep;
  if (rep.msgType !== MSG_TYPE.TGS_REP) throw new KerberosFormatError("TGS-REP", "the KDC answered a TGS-REQ with an AS-REP");
  let part: EncKdcRepPart;
  try {
    part = decodeEncKdcRepPart(cipher.decrypt(tgt.sessionKey, KEY_USAGE.TGS_REP_ENC_PART_SESSION_KEY, rep.encPart.cipher));
  } catch (e) {
    if (e instanceof IntegrityError) throw new KerberosFormatError("TGS-REP", "the enc-part does not decrypt with the TGT's session key: the answer is not for this request");
    throw e;
  }
  if (part.nonce !== n) throw new KerberosFormatError("TGS-REP", "the nonce of the reply is not the request's: it answers another request");
  return { service: { ...part.sname, realm: part.srealm }, ticket: rep.ticket, sessionKey: part.key, endTime: part.endTime };
}

/** Is the ticket the KDC returned for the service that was asked (components compare as AD's SPNs do)? */
export function isTicketFor(t: ServiceTicket, service: Principal): boolean {
  return samePrincipal(t.service, service);
}

export function forgetTgt(tgt: Tgt): void {
  tgt.sessionKey.value.fill(0);
}
