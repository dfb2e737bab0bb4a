// A scripted KDC for the client's unit tests: it speaks RFC 4120's AS and TGS exchanges over TCP
// (and UDP, where it can be told to answer KRB_ERR_RESPONSE_TOO_BIG) on a lab address, with a clock
// of its own, the keys the test gives the account, and the errors the test asks for. What no lab
// KDC can be made to do on demand (a clock 20 minutes away, an account with only an RC4 key, a
// KRB-ERROR without stime) is done here; test/integration/kdc-client.test.ts proves the same
// client against Samba's real KDC, with MIT's tools as the judge.
import { randomBytes } from "node:crypto";
import { createSocket, Socket as UdpSocket } from "node:dgram";
import { AddressInfo, createServer, Server } from "node:net";
import { cipherFor } from "../../../provider/kerberos/cipher";
import { EncryptionKey } from "../../../provider/kerberos/crypto";
import { children, der, Fields, readElement, readInteger, readKerberosString, readKerberosTime, readOctetString, readOnly } from "../../../provider/kerberos/der";
import { principalName } from "./builders";

export interface FakeAccount {
  name: string;
  password: string;
  /** The etypes the account holds keys for, in the KDC's order of preference. */
  etypes: number[];
  salt?: string;
}

export interface FakeKdcSpec {
  realm: string;
  user: FakeAccount;
  /** SPNs ("HTTP/host") the KDC knows, with their ticket's etype and kvno. */
  services: Record<string, { etype: number; kvno: number }>;
  /** The KDC's clock minus the real one. */
  clockOffsetMs?: number;
  /** Leave stime out of KDC_ERR_PREAUTH_REQUIRED (RFC 4120 requires it; a test of the SKEW retry). */
  noStimeInPreauthRequired?: boolean;
  /** Answer every AS-REQ with this KRB-ERROR code. */
  asError?: number;
  /** Encrypt the AS-REP with a key from another password. */
  asRepWithOtherKey?: boolean;
  /** Over UDP, answer every request with KRB_ERR_RESPONSE_TOO_BIG. */
  udpTooBig?: boolean;
}

export interface FakeKdc {
  /** TCP and UDP. */
  port: number;
  /** What came in, in order: "AS-REQ tcp", "AS-REQ+ENC-TS tcp", "TGS-REQ tcp", … */
  log: string[];
  /** ETYPE lists of the requests. */
  etypesAsked: number[][];
  close(): Promise<void>;
}

const SKEW_MS = 300_000;

function kerberosTime(ms: number): Buffer {
  return der.generalizedTime(new Date(Math.floor(ms / 1000) * 1000));
}

function krbError(realm: string, code: number, nowMs: number, opts: { stime?: boolean; eData?: Buffer } = {}): Buffer {
  return der.application(
    30,
    der.sequence(
      der.context(0, der.integer(5)),
      der.context(1, der.integer(30)),
      ...(opts.stime === false ? [] : [der.context(4, kerberosTime(nowMs)), der.context(5, der.integer((nowMs % 1000) * 1000))]),
      der.context(6, der.integer(code)),
      der.context(9, der.generalString(realm)),
      der.context(10, principalName({ nameType: 2, components: ["krbtgt", realm] })),
      ...(opts.eData ? [der.context(12, der.octetString(opts.eData))] : []),
    ),
  );
}

function encryptionKey(k: EncryptionKey): Buffer {
  return der.sequence(der.context(0, der.integer(k.etype)), der.context(1, der.octetString(k.value)));
}

function encryptedData(etype: number, cipher: Buffer, kvno?: number): Buffer {
  return der.sequence(der.context(0, der.integer(etype)), ...(kvno === undefined ? [] : [der.context(1, der.integer(kvno))]), der.context(2, der.octetString(cipher)));
}

function randomKey(etype: number): EncryptionKey {
  return { etype, value: randomBytes(etype === 17 ? 16 : etype === 23 ? 16 : 32) };
}

export async function startFakeKdc(addr: string, spec: FakeKdcSpec): Promise<FakeKdc> {
  const log: string[] = [];
  const etypesAsked: number[][] = [];
  const krbtgtKey = randomKey(18);
  const now = (): number => Date.now() + (spec.clockOffsetMs ?? 0);
  const userKey = (etype: number, password = spec.user.password): EncryptionKey => cipherFor(etype).stringToKey(password, spec.user.salt ?? `${spec.realm}${spec.user.name}`);
  const serviceKeys = new Map(Object.entries(spec.services).map(([spn, s]) => [spn.toLowerCase(), { ...s, key: randomKey(s.etype) }]));

  const ticket = (sname: { nameType: number; components: string[] }, key: EncryptionKey, kvno: number, session: EncryptionKey, client: string): Buffer => {
    const part = der.application(
      3,
      der.sequence(
        der.context(0, der.bitString(Buffer.alloc(4))),
        der.context(1, encryptionKey(session)),
        der.context(2, der.generalString(spec.realm)),
        der.context(3, principalName({ nameType: 1, components: [client] })),
        der.context(4, der.sequence(der.context(0, der.integer(1)), der.context(1, der.octetString(Buffer.alloc(0))))),
        der.context(5, kerberosTime(now())),
        der.context(7, kerberosTime(now() + 3600_000)),
      ),
    );
    return der.application(1, der.sequence(der.context(0, der.integer(5)), der.context(1, der.generalString(spec.realm)), der.context(2, principalName(sname)), der.context(3, encryptedData(key.etype, cipherFor(key.etype).encrypt(key, 2, part), kvno))));
  };

  const repPart = (tag: 25 | 26, session: EncryptionKey, nonce: number, sname: { nameType: number; components: string[] }): Buffer =>
    der.application(
      tag,
      der.sequence(
        der.context(0, encryptionKey(session)),
        der.context(1, der.sequence()),
        der.context(2, der.integer(nonce)),
        der.context(4, der.bitString(Buffer.alloc(4))),
        der.context(5, kerberosTime(now())),
        der.context(7, kerberosTime(now() + 3600_000)),
        der.context(9, der.generalString(spec.realm)),
        der.context(10, principalName(sname)),
      ),
    );

  const rep = (msgType: 11 | 13, ticketDer: Buffer, etype: number, cipher: Buffer): Buffer =>
    der.application(
      msgType,
      der.sequence(
        der.context(0, der.integer(5)),
        der.context(1, der.integer(msgType)),
        der.context(3, der.generalString(spec.realm)),
        der.context(4, principalName({ nameType: 1, components: [spec.user.name] })),
        der.context(5, ticketDer),
        der.context(6, encryptedData(etype, cipher)),
      ),
    );

  function handle(message: Buffer, transport: string): Buffer {
    const app = readOnly(message);
    const f = new Fields(children(app)[0], "KDC-REQ");
    const padata = f.optional(3) ? children(f.optional(3)!).map((p) => new Fields(p, "PA-DATA")).map((p) => ({ type: readInteger(p.required(1, "t"), "t"), value: readOctetString(p.required(2, "v"), "v") })) : [];
    const bodyEl = f.required(4, "req-body");
    const body = new Fields(bodyEl, "body");
    const nonce = readInteger(body.required(7, "nonce"), "nonce");
    const etypes = children(body.required(8, "etype")).map((e) => readInteger(e, "etype"));
    etypesAsked.push(etypes);
    if (app.tag === 10) {
      const encTs = padata.find((p) => p.type === 2);
      log.push(`AS-REQ${encTs ? "+ENC-TS" : ""} ${transport}`);
      if (spec.asError) return krbError(spec.realm, spec.asError, now());
      const etype = etypes.find((e) => spec.user.etypes.includes(e));
      if (etype === undefined) return krbError(spec.realm, 14, now());
      const key = userKey(etype);
      if (!encTs) {
        const info = der.sequence(der.sequence(der.context(0, der.integer(etype)), ...(etype === 23 ? [] : [der.context(1, der.generalString(spec.user.salt ?? `${spec.realm}${spec.user.name}`))])));
        const methodData = der.sequence(der.sequence(der.context(1, der.integer(19)), der.context(2, der.octetString(info))), der.sequence(der.context(1, der.integer(2)), der.context(2, der.octetString(Buffer.alloc(0)))));
        return krbError(spec.realm, 25, now(), { stime: !spec.noStimeInPreauthRequired, eData: methodData });
      }
      const ed = new Fields(readOnly(encTs.value), "EncryptedData");
      let ts: Date;
      try {
        const plain = cipherFor(readInteger(ed.required(0, "etype"), "etype")).decrypt(key, 1, readOctetString(ed.required(2, "cipher"), "cipher"));
        ts = readKerberosTime(new Fields(readOnly(plain), "PA-ENC-TS-ENC").required(0, "patimestamp"), "patimestamp");
      } catch {
        return krbError(spec.realm, 24, now());
      }
      if (Math.abs(ts.getTime() - now()) > SKEW_MS) return krbError(spec.realm, 37, now());
      const session = randomKey(etypes[0]);
      const krbtgt = { nameType: 2, components: ["krbtgt", spec.realm] };
      const replyKey = spec.asRepWithOtherKey ? userKey(etype, `${spec.user.password}-not`) : key;
      return rep(11, ticket(krbtgt, krbtgtKey, 2, session, spec.user.name), etype, cipherFor(etype).encrypt(replyKey, 3, repPart(25, session, nonce, krbtgt)));
    }
    // TGS-REQ: the TGT's session key from the ticket, the authenticator's time and checksum.
    log.push(`TGS-REQ ${transport}`);
    const ap = new Fields(children(readOnly(padata.find((p) => p.type === 1)!.value))[0], "AP-REQ");
    const tgt = new Fields(children(ap.required(3, "ticket"))[0], "Ticket");
    const tgtEnc = new Fields(tgt.required(3, "enc-part"), "enc-part");
    const tgtPart = new Fields(children(readOnly(cipherFor(18).decrypt(krbtgtKey, 2, readOctetString(tgtEnc.required(2, "c"), "c"))))[0], "EncTicketPart");
    const sk = new Fields(tgtPart.required(1, "key"), "key");
    const session: EncryptionKey = { etype: readInteger(sk.required(0, "t"), "t"), value: readOctetString(sk.required(1, "v"), "v") };
    const authEnc = new Fields(ap.required(4, "authenticator"), "authenticator");
    const auth = new Fields(children(readOnly(cipherFor(session.etype).decrypt(session, 7, readOctetString(authEnc.required(2, "c"), "c"))))[0], "Authenticator");
    const ctime = readKerberosTime(auth.required(5, "ctime"), "ctime");
    if (Math.abs(ctime.getTime() - now()) > SKEW_MS) return krbError(spec.realm, 37, now());
    const cksum = new Fields(auth.required(3, "cksum"), "cksum");
    const want = cipherFor(session.etype).checksum(session, 6, bodyEl.raw);
    if (readInteger(cksum.required(0, "t"), "t") !== want.type || !readOctetString(cksum.required(1, "v"), "v").equals(want.value)) return krbError(spec.realm, 31, now());
    const snameF = new Fields(body.required(3, "sname"), "sname");
    const sname = { nameType: readInteger(snameF.required(0, "t"), "t"), components: children(snameF.required(1, "s")).map((c) => readKerberosString(c, "c")) };
    const svc = serviceKeys.get(sname.components.join("/").toLowerCase());
    if (!svc) return krbError(spec.realm, 7, now());
    // An RC4-only service gets an RC4 session key, as AD gives it (msDS-SupportedEncryptionTypes 4).
    const svcSession = randomKey(svc.etype === 23 ? 23 : etypes[0]);
    return rep(13, ticket(sname, svc.key, svc.kvno, svcSession, spec.user.name), session.etype, cipherFor(session.etype).encrypt(session, 8, repPart(26, svcSession, nonce, sname)));
  }

  const tcp: Server = createServer((s) => {
    let buf = Buffer.alloc(0);
    s.on("error", () => undefined);
    s.on("data", (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      if (buf.length < 4 || buf.length < 4 + buf.readUInt32BE(0)) return;
      const reply = handle(buf.subarray(4, 4 + buf.readUInt32BE(0)), "tcp");
      const prefix = Buffer.alloc(4);
      prefix.writeUInt32BE(reply.length);
      s.end(Buffer.concat([prefix, reply]));
    });
  });
  await new Promise<void>((resolve, reject) => tcp.once("error", reject).listen(0, addr, resolve));
  const port = (tcp.address() as AddressInfo).port;
  const udp: UdpSocket = createSocket("udp4");
  udp.on("message", (m, from) => {
    const reply = spec.udpTooBig ? (log.push(`${readElement(m).element.tag === 10 ? "AS-REQ" : "TGS-REQ"} udp`), krbError(spec.realm, 52, now())) : handle(m, "udp");
    udp.send(reply, from.port, from.address);
  });
  // The same port number over UDP: a client falls back from UDP to TCP on the same KDC address.
  await new Promise<void>((resolve, reject) => udp.once("error", reject).bind(port, addr, resolve));
  return {
    port,
    log,
    etypesAsked,
    close: () => new Promise<void>((resolve) => udp.close(() => tcp.close(() => resolve()))),
  };
}
