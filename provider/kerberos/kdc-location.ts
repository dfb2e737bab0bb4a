// Naming KDCs: the values MIT's krb5.conf takes for `kdc` (krb5.conf(5), [realms]): `host`,
// `host:port`, `[v6]:port`, `tcp/host[:port]`, `udp/host[:port]`, and `https://host/KdcProxy`
// (an MS-KKDCP proxy, with the realm's `http_anchors = FILE:<pem>` as its CA); the [realms] block
// of a krb5.conf read for its realm's `kdc` lines; and DNS SRV records (RFC 4120 §7.2.3.2,
// `_kerberos._tcp.<realm>`). A name without a prefix is asked over TCP: AD's answers carry a PAC
// and rarely fit a datagram (MIT would try UDP first and fall back on KRB_ERR_RESPONSE_TOO_BIG).
// Nothing else of a krb5.conf is read: includes, [libdefaults] and DNS lookups it asks for are not
// followed; say `udp/` or name an SRV lookup instead.
import { randomBytes } from "node:crypto";
import { createSocket } from "node:dgram";
import { Resolver } from "node:dns/promises";
import { connect, isIPv6 } from "node:net";
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

/** One SRV query (RFC 1035 §4, RFC 2782) over UDP, then TCP when the answer is truncated. Node's
 * resolver (c-ares) refuses an SRV answer whose target is compressed (EBADRESP), which RFC 2782
 * forbids but Samba's DNS sends (seen in the lab; dig and Windows' resolver accept it), so the
 * answer is read here, compression and all. */
export async function querySrv(name: string, server: string, timeoutMs = 5000): Promise<{ priority: number; weight: number; port: number; target: string }[]> {
  const id = randomBytes(2);
  const question = Buffer.concat([...name.split(".").filter(Boolean).map((l) => Buffer.concat([Buffer.from([l.length]), Buffer.from(l, "ascii")])), Buffer.from([0, 0, 33, 0, 1])]);
  const query = Buffer.concat([id, Buffer.from([1, 0, 0, 1, 0, 0, 0, 0, 0, 0]), question]);
  let answer = await dnsUdp(query, server, timeoutMs);
  if (answer[2] & 0x02) answer = await dnsTcp(query, server, timeoutMs);
  if (!answer.subarray(0, 2).equals(id) || !(answer[2] & 0x80)) throw new Error(`${server} sent an answer to another query`);
  const rcode = answer[3] & 0x0f;
  if (rcode === 3) return [];
  if (rcode !== 0) throw new Error(`${server} answered with DNS error ${rcode}`);
  const readName = (at: number): { name: string; next: number } => {
    const labels: string[] = [];
    let pos = at;
    let next = -1;
    for (let jumps = 0; jumps < 64; jumps++) {
      const len = answer[pos];
      if (len === undefined) break;
      if ((len & 0xc0) === 0xc0) {
        if (next < 0) next = pos + 2;
        pos = ((len & 0x3f) << 8) | answer[pos + 1];
        continue;
      }
      if (len === 0) return { name: labels.join("."), next: next < 0 ? pos + 1 : next };
      labels.push(answer.subarray(pos + 1, pos + 1 + len).toString("ascii"));
      pos += 1 + len;
    }
    throw new Error(`${server} sent a name that does not end`);
  };
  let pos = 12;
  for (let q = answer.readUInt16BE(4); q > 0; q--) pos = readName(pos).next + 4;
  const out: { priority: number; weight: number; port: number; target: string }[] = [];
  for (let n = answer.readUInt16BE(6); n > 0; n--) {
    pos = readName(pos).next;
    const type = answer.readUInt16BE(pos);
    const rdlength = answer.readUInt16BE(pos + 8);
    const rdata = pos + 10;
    if (type === 33) out.push({ priority: answer.readUInt16BE(rdata), weight: answer.readUInt16BE(rdata + 2), port: answer.readUInt16BE(rdata + 4), target: readName(rdata + 6).name });
    pos = rdata + rdlength;
  }
  return out;
}

function dnsUdp(query: Buffer, server: string, timeoutMs: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const s = createSocket(isIPv6(server) ? "udp6" : "udp4");
    const timer = setTimeout(() => done(new Error(`the DNS server ${server} did not answer within ${timeoutMs / 1000} s`)), timeoutMs);
    let settled = false;
    const done = (e?: Error, m?: Buffer): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      s.close();
      if (e) reject(e);
      else resolve(m!);
    };
    s.once("error", (e) => done(e));
    s.once("message", (m: Buffer) => done(undefined, m));
    s.send(query, 53, server);
  });
}

function dnsTcp(query: Buffer, server: string, timeoutMs: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const s = connect({ host: server, port: 53 });
    let got = Buffer.alloc(0);
    const timer = setTimeout(() => done(new Error(`the DNS server ${server} did not answer over TCP within ${timeoutMs / 1000} s`)), timeoutMs);
    const done = (e?: Error, m?: Buffer): void => {
      clearTimeout(timer);
      s.destroy();
      if (e) reject(e);
      else resolve(m!);
    };
    s.once("connect", () => s.write(Buffer.concat([Buffer.from([query.length >> 8, query.length & 0xff]), query])));
    s.on("data", (d: Buffer) => {
      got = Buffer.concat([got, d]);
      if (got.length >= 2 && got.length >= 2 + got.readUInt16BE(0)) done(undefined, got.subarray(2, 2 + got.readUInt16BE(0)));
    });
    s.once("error", (e) => done(e));
  });
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
  const records = await querySrv(`_kerberos._tcp.${realm.toLowerCase()}`, dnsServer);
  const kdcs: KdcAddress[] = [];
  for (const r of records.filter((x) => x.target !== "").sort((a, b) => a.priority - b.priority || b.weight - a.weight)) {
    const addresses = [...(await resolver.resolve4(r.target).catch(none)), ...(await resolver.resolve6(r.target).catch(none))];
    for (const host of addresses.length ? addresses : [r.target]) kdcs.push({ transport: "tcp", host, port: r.port });
  }
  return kdcs;
}
