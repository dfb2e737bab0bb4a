// Carrying one KDC request to a KDC and its answer back, three ways:
// - TCP (RFC 4120 §7.2.2): the message prefixed by its length, 4 octets big-endian, the same back;
//   the high bit of the length is reserved, so an answer with it set is refused;
// - UDP (§7.2.1): one datagram each way, tried again after 1 s and 2 s; a KDC whose answer would
//   not fit says KRB_ERR_RESPONSE_TOO_BIG (52), and the same request then goes over TCP;
// - MS-KKDCP: POSTed over HTTPS to a KDC proxy (kkdcp.ts frames it), the proxy's certificate
//   verified against the given CA (default: Node's trust store).
// KDCs are tried in the order given; the first that answers wins (MIT's behaviour, without its
// parallel "race" after 1 s). Node's own sockets only: no program is started.
import { settingDefault } from "../setting-keys";
import { readFileSync } from "node:fs";
import { createSocket } from "node:dgram";
import { request } from "node:https";
import { connect, isIPv6 } from "node:net";
import { UnreachableError } from "../errors";
import { readElement, TagClass } from "./der";
import { decodeKdcReply, MSG_TYPE } from "./kdc-messages";
import { decodeKdcProxyMessage, encodeKdcProxyMessage } from "./kkdcp";

export const KDC_PORT = 88;
const KRB_ERR_RESPONSE_TOO_BIG = 52;
const UDP_WAITS_MS = [1000, 2000];

export interface KdcAddress {
  transport: "tcp" | "udp";
  host: string;
  port: number;
}

/** Where requests go: KDCs (each over TCP, or UDP with TCP for large answers), or only a KDC proxy. */
export type KdcRoute =
  | {
      kind: "kdcs";
      kdcs: KdcAddress[];
      /** How these were chosen, for messages: "the DC of exchange-kerberos:ldapUrl". */
      chosenBy: string;
      /** What to do when none answers. */
      fix: string;
    }
  | { kind: "proxy"; url: string; caFile?: string; timeoutMs?: number };

export interface KdcAnswer {
  reply: Buffer;
  /** Who answered: "127.0.0.2:88 (TCP)", or the proxy's URL. */
  via: string;
}

export const DEFAULT_KDC_TIMEOUT_MS = 10_000;
export const DEFAULT_KDC_PROXY_TIMEOUT_MS: number = settingDefault("kdcProxyTimeoutMs");

export function describeKdc(k: KdcAddress): string {
  return `${isIPv6(k.host) ? `[${k.host}]` : k.host}:${k.port} (${k.transport.toUpperCase()})`;
}

function tcpExchange(k: KdcAddress, message: Buffer, timeoutMs: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const s = connect({ host: k.host, port: k.port });
    const parts: Buffer[] = [];
    let have = 0;
    const done = (e: Error | undefined, reply?: Buffer): void => {
      clearTimeout(timer);
      s.destroy();
      if (e) reject(e);
      else resolve(reply!);
    };
    const timer = setTimeout(() => done(new Error(`no answer within ${timeoutMs / 1000} s`)), timeoutMs);
    s.once("connect", () => {
      const prefix = Buffer.alloc(4);
      prefix.writeUInt32BE(message.length);
      s.write(Buffer.concat([prefix, message]));
    });
    s.on("data", (d: Buffer) => {
      parts.push(d);
      have += d.length;
      if (have < 4) return;
      const all = Buffer.concat(parts);
      const length = all.readUInt32BE(0);
      if (length & 0x80000000) return done(new Error("the answer's length has the reserved high bit set (RFC 4120 §7.2.2)"));
      if (have >= 4 + length) done(undefined, all.subarray(4, 4 + length));
    });
    s.once("end", () => done(new Error(`the KDC closed the connection after ${have} octets`)));
    s.once("error", (e) => done(e));
  });
}

function udpExchange(k: KdcAddress, message: Buffer, timeoutMs: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const s = createSocket(isIPv6(k.host) ? "udp6" : "udp4");
    let timer: NodeJS.Timeout | undefined;
    let settled = false;
    const done = (e: Error | undefined, reply?: Buffer): void => {
      if (settled) return; // a late ICMP error or a second datagram after the answer
      settled = true;
      clearTimeout(timer);
      s.close();
      if (e) reject(e);
      else resolve(reply!);
    };
    // Each wait is cut to what is left of timeoutMs.
    let left = timeoutMs;
    const send = (attempt: number): void => {
      if (attempt >= UDP_WAITS_MS.length || left <= 0) return done(new Error(`no answer within ${(timeoutMs - Math.max(left, 0)) / 1000} s`));
      const wait = Math.min(UDP_WAITS_MS[attempt], left);
      left -= wait;
      s.send(message);
      timer = setTimeout(() => send(attempt + 1), wait);
    };
    s.once("error", (e) => done(e));
    s.on("message", (m: Buffer) => done(undefined, m));
    s.connect(k.port, k.host, () => send(0));
  });
}

function isResponseTooBig(reply: Buffer): boolean {
  try {
    const { element } = readElement(reply);
    if (element.cls !== TagClass.Application || element.tag !== MSG_TYPE.KRB_ERROR) return false;
    const r = decodeKdcReply(reply);
    return r.kind === "error" && r.error.code === KRB_ERR_RESPONSE_TOO_BIG;
  } catch {
    return false;
  }
}

/** The proxy's HTTP answer to a POST of `body`. Rejects on a network or TLS error, or when
 * `signal` aborts; any HTTP status resolves. */
export function postKdcProxy(u: URL, ca: Buffer | undefined, body: Buffer, signal: AbortSignal): Promise<{ status: number; type: string; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: u.hostname.replace(/^\[|\]$/g, ""),
        port: u.port ? Number(u.port) : 443,
        path: u.pathname,
        method: "POST",
        ca,
        agent: false,
        signal,
        headers: { "Content-Type": "application/kerberos", "Content-Length": body.length, "User-Agent": "pulumi-exchange-kerberos doctor", "Cache-Control": "no-cache", Pragma: "no-cache" },
      },
      (res) => {
        const parts: Buffer[] = [];
        res.on("data", (d: Buffer) => parts.push(d));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, type: String(res.headers["content-type"] ?? ""), body: Buffer.concat(parts) }));
        res.on("error", reject);
      },
    );
    req.once("error", reject);
    req.end(body);
  });
}

async function viaProxy(route: Extract<KdcRoute, { kind: "proxy" }>, realm: string, message: Buffer): Promise<KdcAnswer> {
  const timeoutMs = route.timeoutMs ?? DEFAULT_KDC_PROXY_TIMEOUT_MS;
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), timeoutMs);
  const fail = (why: string): UnreachableError =>
    new UnreachableError(`no KDC answered through the KDC proxy ${route.url}: ${why}`, "see the KDC proxy's finding (check 4), which walks the path to it", { code: "KDC_UNREACHABLE" });
  try {
    const ca = route.caFile ? readFileSync(route.caFile) : undefined;
    const answer = await postKdcProxy(new URL(route.url), ca, encodeKdcProxyMessage(message, realm), controller.signal).catch((e: Error) => {
      throw fail(controller.signal.aborted ? `no answer within ${timeoutMs / 1000} s` : e.message);
    });
    if (answer.status !== 200) throw fail(`HTTP ${answer.status} ("${answer.body.toString("utf8").trim().slice(0, 200)}")`);
    return { reply: decodeKdcProxyMessage(answer.body).kdcMessage, via: route.url };
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Sends one KDC request for `realm` along `route` and resolves to the first answer (a KDC-REP or a
 * KRB-ERROR, still encoded). Rejects with UnreachableError (KDC_UNREACHABLE) naming every KDC
 * tried and why, when none answered.
 */
export async function sendToKdc(route: KdcRoute, realm: string, message: Buffer, timeoutMs = DEFAULT_KDC_TIMEOUT_MS): Promise<KdcAnswer> {
  if (route.kind === "proxy") return viaProxy(route, realm, message);
  const tried: string[] = [];
  for (const k of route.kdcs) {
    try {
      if (k.transport === "udp") {
        const reply = await udpExchange(k, message, timeoutMs);
        if (!isResponseTooBig(reply)) return { reply, via: describeKdc(k) };
        tried.push(`${describeKdc(k)}: KRB_ERR_RESPONSE_TOO_BIG, so TCP`);
      }
      const tcp: KdcAddress = { ...k, transport: "tcp" };
      return { reply: await tcpExchange(tcp, message, timeoutMs), via: describeKdc(tcp) };
    } catch (e) {
      tried.push(`${describeKdc(k)}: ${(e as Error).message}`);
    }
  }
  throw new UnreachableError(
    `no KDC of ${realm} answered (${route.chosenBy}): ${tried.join("; ") || "no KDC was named"}`,
    route.fix,
    { code: "KDC_UNREACHABLE" },
  );
}
