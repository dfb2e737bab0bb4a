// Naming KDCs: the values MIT's krb5.conf takes for `kdc` (krb5.conf(5), [realms]): `host`,
// `host:port`, `[v6]:port`, `tcp/host[:port]`, `udp/host[:port]`, and `https://host/KdcProxy`
// (an MS-KKDCP proxy, with the realm's `http_anchors = FILE:<pem>` as its CA); the [realms] block
// of a krb5.conf read for its realm's `kdc` lines; and DNS SRV records (RFC 4120 §7.2.3.2,
// `_kerberos._tcp.<realm>`). A name without a prefix is asked over TCP: AD's answers carry a PAC
// and rarely fit a datagram (MIT would try UDP first and fall back on KRB_ERR_RESPONSE_TOO_BIG).
// Nothing else of a krb5.conf is read: includes, [libdefaults] and DNS lookups it asks for are not
// followed; say `udp/` or name an SRV lookup instead.
import { Resolver } from "node:dns/promises";
import { isIPv6 } from "node:net";
import { InvalidInputError } from "../errors";
import { KDC_PORT, KdcAddress } from "./kdc-transport";

export type KdcSpec = { kind: "kdc"; kdc: KdcAddress } | { kind: "proxy"; url: string };

/** One `kdc` value. Throws InvalidInputError naming `field` for anything else. */
export function parseKdcSpec(text: string, field: string): KdcSpec {
  const v = text.trim();
  const refuse = (why: string): never => {
    throw new InvalidInputError(field, `"${text}" ${why}`, "name a KDC as host, host:port, tcp/host[:port], udp/host[:port] or https://host/KdcProxy", { code: "NOT_A_KDC" });
  };
  if (/^https:\/\//i.test(v)) {
    try {
      return { kind: "proxy", url: new URL(v).toString() };
    } catch {
      return refuse("is not a URL");
    }
  }
  const m = /^(?:(tcp|udp)\/)?(?:\[([0-9a-fA-F:.]+)\]|([^\s/:[\]]+)|([0-9a-fA-F:]+:[0-9a-fA-F:.]*))(?::(\d{1,5}))?$/i.exec(v);
  if (!m) return refuse("is not a KDC name");
  const host = m[2] ?? m[3] ?? m[4];
  if (m[4] !== undefined && !isIPv6(host)) return refuse("is not a KDC name");
  const port = m[5] === undefined ? KDC_PORT : Number(m[5]);
  if (port < 1 || port > 65535) return refuse("has no valid port");
  return { kind: "kdc", kdc: { transport: (m[1]?.toLowerCase() as "tcp" | "udp" | undefined) ?? "tcp", host, port } };
}

/** The `kdc` values of `realm`'s block in a krb5.conf (realm names compare exactly, as MIT's do),
 * and its `http_anchors` FILE: CA for an https:// KDC. */
export function krb5ConfKdcs(text: string, realm: string): { kdcs: string[]; httpAnchor?: string } {
  const kdcs: string[] = [];
  let httpAnchor: string | undefined;
  let section = "";
  let depth = 0;
  let inRealm = false;
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (line === "" || line.startsWith("#") || line.startsWith(";")) continue;
    const header = /^\[([^\]]+)\]/.exec(line);
    if (header && depth === 0) {
      section = header[1].trim();
      continue;
    }
    if (section !== "realms") continue;
    const open = /^([^=\s]+)\s*=\s*\{\s*$/.exec(line);
    if (open) {
      if (depth === 0) inRealm = open[1] === realm;
      depth++;
      continue;
    }
    if (line.startsWith("}")) {
      depth = Math.max(0, depth - 1);
      if (depth === 0) inRealm = false;
      continue;
    }
    const rel = /^([A-Za-z_]+)\s*=\s*(.*?)\s*$/.exec(line);
    if (!rel || !inRealm || depth !== 1) continue;
    if (rel[1] === "kdc") kdcs.push(rel[2]);
    else if (rel[1] === "http_anchors" && rel[2].startsWith("FILE:")) httpAnchor ??= rel[2].slice(5);
  }
  return { kdcs, ...(httpAnchor ? { httpAnchor } : {}) };
}

/** `_kerberos._tcp.<realm>` at `dnsServer`, by priority then weight (RFC 2782), each target's
 * addresses asked of the same server (a domain's DNS knows its DCs; the machine's resolver may
 * not); [] when there are none. Rejects when the server does not answer. */
export async function kdcsFromSrv(realm: string, dnsServer: string): Promise<KdcAddress[]> {
  const resolver = new Resolver({ timeout: 5000, tries: 2 });
  resolver.setServers([dnsServer]);
  const none = (e: unknown): [] => {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === "ENODATA" || code === "ENOTFOUND") return [];
    throw e;
  };
  const records = await resolver.resolveSrv(`_kerberos._tcp.${realm.toLowerCase()}`).catch(none);
  const kdcs: KdcAddress[] = [];
  for (const r of records.filter((x) => x.name !== "." && x.name !== "").sort((a, b) => a.priority - b.priority || b.weight - a.weight)) {
    const addresses = [...(await resolver.resolve4(r.name).catch(none)), ...(await resolver.resolve6(r.name).catch(none))];
    for (const host of addresses.length ? addresses : [r.name]) kdcs.push({ transport: "tcp", host, port: r.port });
  }
  return kdcs;
}
