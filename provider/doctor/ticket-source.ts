// Doctor check 4: who asks the KDC for tickets, and which KDC is asked.
//
// Who: `kerberosUser` as a principal (kerberos/principal.ts adUserPrincipal), by default the LDAP
// bind user when that is a logon name (user@domain, DOMAIN\user). A bind user given as a DN is not
// a principal: the doctor refuses it, naming kerberosUser, and guesses nothing.
//
// Which KDC, the first that applies:
//   1. kdcProxyUrl: only the KDC proxy (MS-KKDCP), as a client outside the network;
//   2. kerberosKdc: the KDCs it names (host[:port], tcp/…, udp/…, https://…/KdcProxy), or `dns`
//      for the realm's _kerberos._tcp SRV records at the domain's DNS server (as check 1 asks);
//   3. krb5Config: the `kdc` lines of the realm's block in that krb5.conf (kept for those who have
//      one; nothing else of it is read);
//   4. otherwise the domain controller of ldapUrl, on TCP 88: tickets come from the DC the stack
//      writes to, so a password set or an SPN written a moment ago is already there (no
//      replication between DCs stands between the write and the ticket).
import { readFileSync } from "node:fs";
import { InvalidInputError } from "../errors";
import { KDC_PORT, KdcRoute } from "../kerberos/kdc-transport";
import { kdcsFromSrv, krb5ConfKdcs, KdcSpec, parseKdcSpec } from "../kerberos/kdc-location";
import { adUserPrincipal, Principal } from "../kerberos/principal";
import { CONFIG_NAMESPACE, projectPath } from "../settings";
import { dnsServerFor } from "./dns";
import type { DoctorOptions } from "./options";

const USER_KEY = `${CONFIG_NAMESPACE}:kerberosUser`;
const KDC_KEY = `${CONFIG_NAMESPACE}:kerberosKdc`;
const KRB5_KEY = `${CONFIG_NAMESPACE}:krb5Config`;

/** The doctor's user as a principal of `realm`. Throws InvalidInputError naming kerberosUser. */
export function doctorPrincipal(o: DoctorOptions, realm: string, netbiosName?: string): Principal {
  try {
    return adUserPrincipal(o.kerberos.user, realm, netbiosName);
  } catch (e) {
    if (!(e instanceof InvalidInputError)) throw e;
    const fix = `set ${USER_KEY} to user@${realm.toLowerCase()} or ${netbiosName ?? "DOMAIN"}\\user (and ${CONFIG_NAMESPACE}:kerberosPassword)`;
    if (o.kerberos.userIsBindUser) throw new InvalidInputError(USER_KEY, `is not set, and the LDAP bind user it defaults to, ${e.reason}`, `${fix}, or bind as user@domain`, { code: "INVALID_USER_NAME" });
    throw new InvalidInputError(USER_KEY, e.reason, fix, { code: "INVALID_USER_NAME" });
  }
}

function routeOf(specs: KdcSpec[], chosenBy: string, fix: string, field: string, ca?: string): KdcRoute {
  const proxies = specs.filter((s): s is Extract<KdcSpec, { kind: "proxy" }> => s.kind === "proxy");
  if (proxies.length > 0) {
    if (specs.length > 1) throw new InvalidInputError(field, "names a KDC proxy beside other KDCs", "name either the KDC proxy alone or KDCs", { code: "NOT_A_KDC" });
    return { kind: "proxy", url: proxies[0].url, ...(ca ? { caFile: ca } : {}) };
  }
  return { kind: "kdcs", kdcs: specs.map((s) => (s as Extract<KdcSpec, { kind: "kdc" }>).kdc), chosenBy, fix };
}

function listOf(value: string): string[] {
  const v = value.trim();
  if (v.startsWith("[")) {
    try {
      const list: unknown = JSON.parse(v);
      if (Array.isArray(list) && list.every((x) => typeof x === "string")) return list;
    } catch {
      // not JSON: read as a comma-separated list below
    }
  }
  return v.split(",").map((s) => s.trim()).filter(Boolean);
}

/** Where check 4 sends its requests (the rule at the top). */
export async function doctorKdcRoute(o: DoctorOptions, realm: string): Promise<KdcRoute> {
  if (o.kdcProxy) return { kind: "proxy", url: o.kdcProxy.url, caFile: projectPath(o.kdcProxy.caFile), timeoutMs: o.kdcProxy.timeoutMs };
  if (o.kerberos.kdc !== undefined) {
    if (o.kerberos.kdc.trim().toLowerCase() === "dns") {
      const server = await dnsServerFor(o);
      const kdcs = await kdcsFromSrv(realm, server);
      const srv = `_kerberos._tcp.${realm.toLowerCase()}`;
      return { kind: "kdcs", kdcs, chosenBy: `${KDC_KEY} dns: the SRV records ${srv} at ${server}`, fix: kdcs.length ? `open TCP to the KDCs of ${srv}, or name one with ${KDC_KEY}` : `publish ${srv} SRV records at ${server}, or name a KDC with ${KDC_KEY}` };
    }
    const specs = listOf(o.kerberos.kdc).map((s) => parseKdcSpec(s, KDC_KEY));
    return routeOf(specs, `named by ${KDC_KEY}`, `check ${KDC_KEY} and the network path to it`, KDC_KEY);
  }
  const krb5Config = projectPath(o.kerberos.krb5Config);
  if (krb5Config) {
    let text: string;
    try {
      text = readFileSync(krb5Config, "utf8");
    } catch (e) {
      throw new InvalidInputError(KRB5_KEY, `${krb5Config} cannot be read: ${(e as Error).message}`, `point ${KRB5_KEY} at a readable krb5.conf, or name the KDC with ${KDC_KEY}`, { code: "KRB5_CONFIG_UNREADABLE" });
    }
    const found = krb5ConfKdcs(text, realm);
    const specs = found.kdcs.map((s) => parseKdcSpec(s, KRB5_KEY));
    return routeOf(specs, `the kdc lines of ${realm} in ${KRB5_KEY} ${krb5Config}`, `check the kdc lines of [realms] ${realm} in ${krb5Config}, or name a KDC with ${KDC_KEY}`, KRB5_KEY, projectPath(found.httpAnchor));
  }
  const host = new URL(o.ldap.url).hostname.replace(/^\[|\]$/g, "");
  return {
    kind: "kdcs",
    kdcs: [{ transport: "tcp", host, port: KDC_PORT }],
    chosenBy: `the DC of ${CONFIG_NAMESPACE}:ldapUrl, which the stack writes to`,
    fix: `let this machine reach the KDC of ${host} on TCP 88, or name another KDC with ${KDC_KEY}`,
  };
}
