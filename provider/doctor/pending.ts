// Verdicts that know about replication. The stack writes to one DC (exchange-kerberos:ldapUrl);
// clients ask DNS servers, KDCs and Global Catalogs that may be other DCs, which see the write
// only after Active Directory replicates it (within a site: change notification about 15 s after
// the change, then 3 s per further partner; between sites: on the site link's schedule, 180 min by
// default — "How Active Directory replication topology works", Microsoft Learn), and a Windows DNS
// server reads AD-integrated zones on a poll besides (DsPollingInterval, 180 s by default:
// Set-DnsServerDsSetting -PollingInterval). So when what DNS, the GC or the KDC answers differs
// from what the doctor finds on the DC the stack writes to, and that DC got it less than the
// window ago, the finding is "pending" (its own code, the DC, and when to look again), not a
// failure whose fix is another `pulumi up` or a password change. Past the window it stays a
// failure, with a fix that points at replication.
//
// Each verdict rests on what that DC holds and when it was written there: the node's whenChanged
// for DNS, the originating time of servicePrincipalName in the ASA's replPropertyMetaData for an
// SPN, pwdLastSet for the password (a ticket of an older key version: STALE_TICKET). The ticket
// checks' own codes are read as they come (whichever client got the tickets); nothing here gets
// a ticket.
import { Entry } from "ldapts";
import { bufs, directory, LdapConnection, str, strs } from "../ldap/connection";
import { domainInfo } from "../ldap/domain";
import { escapeFilterValue } from "../ldap/escape";
import { findZone, liveRecords, nodeDn, readNode } from "../ldap/dns-zone";
import { DnsType, recordText } from "../ldap/dns-record-codec";
import { dateFromFiletime, parseFiletime } from "../ldap/filetime";
import { parseReplPropertyMetaData } from "./directory";
import type { DoctorOptions } from "./options";
import { DoctorFinding, Report } from "./report";
import type { DoctorCode } from "./codes";

/** Within a site: change notification (15 s) plus one poll of the DNS server (DsPollingInterval, 180 s). */
export const DEFAULT_PENDING_WINDOW_SECONDS = 195;

/** ATTRTYP of servicePrincipalName (1.2.840.113556.1.4.771): prefix index 9, low word 771 ([MS-DRSR] §5.16.4). */
export const ATTID_SERVICE_PRINCIPAL_NAME = 0x00090303;

/** What the DC the stack writes to says about one difference. */
export interface WrittenThere {
  /** The DC holds what was declared. */
  holds: boolean;
  /** When it was written there. */
  at?: Date;
}

/** Pending, failed for good, or not explained by replication at all (pure: unit-tested). */
export function classify(w: WrittenThere, now: Date, windowSeconds: number): { verdict: "pending"; retryInSeconds: number } | { verdict: "stuck"; ageSeconds: number } | { verdict: "unexplained" } {
  if (!w.holds || !w.at) return { verdict: "unexplained" };
  const age = Math.max(0, Math.round((now.getTime() - w.at.getTime()) / 1000));
  if (age < windowSeconds) return { verdict: "pending", retryInSeconds: Math.max(5, windowSeconds - age) };
  return { verdict: "stuck", ageSeconds: age };
}

function generalizedTime(v: string | undefined): Date | undefined {
  const m = v && /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})/.exec(v);
  return m ? new Date(Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5], +m[6])) : undefined;
}

function sameSet(a: string[], b: string[]): boolean {
  const x = a.map((v) => v.toLowerCase()).sort();
  const y = b.map((v) => v.toLowerCase()).sort();
  return x.length === y.length && x.every((v, i) => v === y[i]);
}

/** The namespace's A/AAAA records as the DC written to holds them, and when the node was written there. */
async function dnsThere(dc: LdapConnection, o: DoctorOptions): Promise<WrittenThere & { values: string[] }> {
  const name = o.namespace.toLowerCase();
  const zone = o.dnsZone?.toLowerCase();
  if (!zone || !(name === zone || name.endsWith(`.${zone}`)) || !o.dnsAddresses?.length) return { holds: false, values: [] };
  const zoneDn = await findZone(dc, zone);
  const node = await readNode(dc, nodeDn(zoneDn, name === zone ? "@" : name.slice(0, -zone.length - 1)));
  const values = liveRecords(node).filter((r) => r.type === DnsType.A || r.type === DnsType.AAAA).map((r) => recordText(r) ?? "");
  if (!node.exists) return { holds: false, values };
  const [e] = await dc.search(node.dn, { scope: "base", attributes: ["whenChanged"] });
  return { holds: sameSet(values, o.dnsAddresses), at: generalizedTime(e && str(e, "whenChanged")), values };
}

async function asaThere(dc: LdapConnection, o: DoctorOptions): Promise<Entry | undefined> {
  const info = await domainInfo(dc);
  const bare = o.asaName.replace(/^[^\\]*\\/, "");
  const sam = bare.endsWith("$") ? bare : `${bare}$`;
  const [e] = await dc.search(info.defaultNamingContext, {
    scope: "sub",
    filter: `(sAMAccountName=${escapeFilterValue(sam)})`,
    attributes: ["servicePrincipalName", "pwdLastSet", "replPropertyMetaData"],
    binary: ["replPropertyMetaData"],
  });
  return e;
}

function spnThere(asa: Entry | undefined, spn: string): WrittenThere {
  if (!asa || !strs(asa, "servicePrincipalName").some((v) => v.toLowerCase() === spn.toLowerCase())) return { holds: false };
  const meta = bufs(asa, "replPropertyMetaData")[0];
  const change = meta ? parseReplPropertyMetaData(meta).find((m) => m.attid === ATTID_SERVICE_PRINCIPAL_NAME) : undefined;
  return { holds: true, at: change?.changed };
}

function passwordThere(asa: Entry | undefined): WrittenThere {
  const raw = asa && str(asa, "pwdLastSet");
  const at = raw ? dateFromFiletime(parseFiletime(raw)) : undefined;
  return { holds: at !== undefined, at };
}

function pending(f: DoctorFinding, code: DoctorCode, cause: string, retryInSeconds: number): void {
  Object.assign(f, { status: "pending", code, cause, fix: `run the doctor again in ${retryInSeconds} s`, retryInSeconds });
}

const REPLICATION_FIX = "check replication from that DC (repadmin /showrepl, repadmin /replsummary) and, for DNS, the DNS server's poll of the directory (Get-DnsServerDsSetting); pulumi up has nothing to add";

/**
 * DNS (check 1) before the rest: when the DNS server's answer differs from what the DC written to
 * holds, and that DC got it within the window, the finding becomes pending and check 8 probes the
 * declared addresses (the ones clients get once replication ends), not the stale answer.
 */
export async function explainDnsPending(o: DoctorOptions, r: Report, answered: string[], now = new Date()): Promise<string[]> {
  const f = r.findings.find((x) => x.check === "dns" && (x.code === "DNS_NAME_MISSING" || x.code === "DNS_WRONG_ADDRESS"));
  if (!f) return answered;
  const dc = directory(o.ldap);
  const there = await dnsThere(dc, o).catch(() => undefined);
  if (!there) return answered;
  const c = classify(there, now, o.pendingWindowSeconds ?? DEFAULT_PENDING_WINDOW_SECONDS);
  if (c.verdict === "pending") {
    pending(
      f,
      "DNS_REPLICATION_PENDING",
      `${o.namespace}: the DNS server answers ${answered.length ? answered.join(", ") : "nothing"}, but ${dc.url} (the DC the stack writes to) holds ${there.values.join(", ")}, written ${Math.round((now.getTime() - there.at!.getTime()) / 1000)} s ago: replication to that DNS server's DC and its poll of the directory (DsPollingInterval, 180 s by default) have not brought it there yet`,
      c.retryInSeconds,
    );
    return [...there.values];
  }
  if (c.verdict === "stuck") f.fix = `${dc.url} has held ${there.values.join(", ")} for ${c.ageSeconds} s, but the DNS server still answers otherwise: ${REPLICATION_FIX}`;
  return answered;
}

/** SPNs (check 2), tickets (4), decryption (5) and the endpoint (8), after every check ran. */
export async function explainPending(o: DoctorOptions, r: Report, now = new Date()): Promise<void> {
  const suspects = r.findings.filter(
    (f) =>
      (f.check === "spn" && (f.code === "SPN_MISSING" || f.code === "SPN_ALIAS_HELD")) ||
      (f.check === "ticket" && f.code === "TICKET_SPN_UNKNOWN") ||
      (f.check === "decrypt" && f.code === "STALE_TICKET"),
  );
  if (suspects.length === 0) return;
  const dc = directory(o.ldap);
  const asa = await asaThere(dc, o).catch(() => undefined);
  const window = o.pendingWindowSeconds ?? DEFAULT_PENDING_WINDOW_SECONDS;
  let retry = 0;
  for (const f of suspects) {
    const password = f.check === "decrypt";
    const there = password ? passwordThere(asa) : spnThere(asa, f.subject);
    const c = classify(there, now, window);
    const ago = there.at ? Math.round((now.getTime() - there.at.getTime()) / 1000) : 0;
    if (c.verdict === "pending") {
      retry = Math.max(retry, c.retryInSeconds);
      const what = password ? `the ASA's password, set on ${dc.url} (the DC the stack writes to) ${ago} s ago` : `${f.subject}, written to the ASA on ${dc.url} (the DC the stack writes to) ${ago} s ago`;
      const who = f.check === "spn" ? "the Global Catalog" : "the KDC that issued the ticket";
      pending(
        f,
        f.check === "spn" ? "SPN_REPLICATION_PENDING" : "KDC_REPLICATION_PENDING",
        `${who} has not received ${what} yet (replication within a site takes about 15 s, between sites the site link's schedule)${password ? ": it still issues tickets with the previous key" : ""}`,
        c.retryInSeconds,
      );
    } else if (c.verdict === "stuck") {
      f.fix = `${dc.url} has held ${password ? "the ASA's new password" : f.subject} for ${c.ageSeconds} s, which has not reached ${f.check === "spn" ? "the Global Catalog" : "the KDC"}: ${REPLICATION_FIX}`;
    }
  }
  // No ticket yet (check 4 pending): checks 5 and 8 had nothing to work on, for the same wait.
  const waiting = new Set(r.findings.filter((f) => f.check === "ticket" && f.code === "KDC_REPLICATION_PENDING").map((f) => f.subject));
  const namespaceWaits = waiting.has(`HTTP/${o.namespace.toLowerCase()}`);
  for (const f of r.findings.filter((x) => x.code === "NO_TICKET" && ((x.check === "decrypt" && waiting.has(x.subject)) || (x.check === "endpoint" && namespaceWaits)))) {
    pending(f, "KDC_REPLICATION_PENDING", "no ticket to check yet: the KDC has not received the SPN (see check 4)", retry);
  }
  // Check 6 takes a server's credential for AD's password only once check 5 proved the stack's
  // password against a ticket (doctor/exchange.ts); with every such ticket still pending, its
  // verdict waits for the same replication.
  const decrypts = r.findings.filter((f) => f.check === "decrypt");
  if (decrypts.some((f) => f.code === "KDC_REPLICATION_PENDING") && !decrypts.some((f) => f.status === "pass")) {
    for (const f of r.findings.filter((x) => x.check === "binding" && x.code === "SERVER_ASA_STALE")) {
      pending(f, "KDC_REPLICATION_PENDING", `${f.subject}'s credential cannot be proved to be AD's password until a ticket from the KDC decrypts with it (check 5 is pending)`, retry);
    }
  }
  // A ticket of the previous key is what check 8 presented: its refusal is the same wait.
  if (r.findings.some((f) => f.check === "decrypt" && f.code === "KDC_REPLICATION_PENDING")) {
    for (const f of r.findings.filter((x) => x.check === "endpoint" && x.code === "TOKEN_REJECTED")) {
      pending(f, "KDC_REPLICATION_PENDING", `${f.cause} — the ticket came from a KDC that does not hold the ASA's new password yet (see check 5)`, retry);
    }
  }
}
