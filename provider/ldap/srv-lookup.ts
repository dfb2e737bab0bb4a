// One DNS SRV query over UDP (RFC 1035 §4.1 message format, RFC 2782 SRV RDATA), for finding the
// forest's Global Catalog at the DC's DNS server. Node's own resolver (c-ares, as shipped with
// Node 22) refuses answers whose SRV target is a compressed name (EBADRESP): RFC 2782 says the
// target is not to be compressed, but Samba 4.17's DNS server compresses it, and dig and Node 20's
// c-ares read it. So this reads compression pointers in any name, as RFC 1035 §4.1.4 defines them.
import * as dgram from "node:dgram";
import { randomInt } from "node:crypto";
import { isIPv6 } from "node:net";

export interface SrvAnswer {
  name: string;
  port: number;
  priority: number;
  weight: number;
}

const TYPE_SRV = 33;
const CLASS_IN = 1;

/** The query message for `name` SRV IN, with `id`. */
export function srvQuery(name: string, id: number): Buffer {
  const labels = name.replace(/\.$/, "").split(".").map((l) => Buffer.from(l, "ascii"));
  if (labels.some((l) => l.length === 0 || l.length > 63)) throw new Error(`${name} is not a DNS name`);
  const head = Buffer.alloc(12);
  head.writeUInt16BE(id, 0);
  head.writeUInt16BE(0x0100, 2); // RD
  head.writeUInt16BE(1, 4); // QDCOUNT
  const tail = Buffer.alloc(4);
  tail.writeUInt16BE(TYPE_SRV, 0);
  tail.writeUInt16BE(CLASS_IN, 2);
  return Buffer.concat([head, ...labels.flatMap((l) => [Buffer.from([l.length]), l]), Buffer.from([0]), tail]);
}

/** A domain name at `at`, following compression pointers; returns it and the offset after it. */
function readName(m: Buffer, at: number): { name: string; next: number } {
  const labels: string[] = [];
  let next = -1;
  for (let o = at, hops = 0; ; ) {
    if (o >= m.length || hops > 64) throw new Error("DNS name runs off the message");
    const len = m.readUInt8(o);
    if ((len & 0xc0) === 0xc0) {
      if (next < 0) next = o + 2;
      o = m.readUInt16BE(o) & 0x3fff;
      hops++;
      continue;
    }
    if (len === 0) return { name: labels.join("."), next: next < 0 ? o + 1 : next };
    labels.push(m.toString("ascii", o + 1, o + 1 + len));
    o += 1 + len;
  }
}

/** The SRV records of an answer to the query with `id` (empty for NXDOMAIN or no data). */
export function parseSrvAnswer(m: Buffer, id: number): SrvAnswer[] {
  if (m.length < 12 || m.readUInt16BE(0) !== id || !(m.readUInt16BE(2) & 0x8000)) throw new Error("not the answer to this query");
  const rcode = m.readUInt16BE(2) & 0xf;
  if (rcode === 3) return []; // NXDOMAIN
  if (rcode !== 0) throw new Error(`DNS error RCODE ${rcode}`);
  const qd = m.readUInt16BE(4);
  const an = m.readUInt16BE(6);
  let o = 12;
  for (let i = 0; i < qd; i++) o = readName(m, o).next + 4;
  const out: SrvAnswer[] = [];
  for (let i = 0; i < an; i++) {
    o = readName(m, o).next;
    const type = m.readUInt16BE(o);
    const rdlength = m.readUInt16BE(o + 8);
    const rdata = o + 10;
    if (type === TYPE_SRV) {
      out.push({ priority: m.readUInt16BE(rdata), weight: m.readUInt16BE(rdata + 2), port: m.readUInt16BE(rdata + 4), name: readName(m, rdata + 6).name });
    }
    o = rdata + rdlength;
  }
  return out;
}

/** Asks `server` (an IP address) for `name` SRV records over UDP, twice at most. */
export function querySrv(server: string, name: string, timeoutMs: number): Promise<SrvAnswer[]> {
  const attempt = (): Promise<SrvAnswer[]> =>
    new Promise((resolve, reject) => {
      const id = randomInt(0, 0x10000);
      const socket = dgram.createSocket(isIPv6(server) ? "udp6" : "udp4");
      const timer = setTimeout(() => {
        socket.close();
        reject(Object.assign(new Error(`no answer from ${server}`), { code: "ETIMEOUT" }));
      }, timeoutMs);
      socket.on("message", (m) => {
        try {
          const answers = parseSrvAnswer(m, id);
          clearTimeout(timer);
          socket.close();
          resolve(answers);
        } catch {
          // not ours, or garbled: wait for the real answer
        }
      });
      socket.on("error", (e) => {
        clearTimeout(timer);
        socket.close();
        reject(e);
      });
      socket.send(srvQuery(name, id), 53, server);
    });
  return attempt().catch(() => attempt());
}
