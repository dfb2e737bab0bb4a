// The TypeScript Kerberos client against a scripted KDC (fake-kdc.ts): the order of the AS
// exchange, the salt and etype taken from ETYPE-INFO2, RC4 only where nothing else is offered, the
// KDC's clock used for every authenticator (MIT's kdc_timesync), each KRB-ERROR's typed error, and
// UDP falling back to TCP on KRB_ERR_RESPONSE_TOO_BIG. The same client against Samba's real KDC,
// with MIT's tools as the judge: test/integration/kdc-client.test.ts.
import assert from "node:assert/strict";
import { KdcClientOptions, requestServiceTicket, requestTgt } from "../../../provider/kerberos/kdc-client";
import { KdcRoute } from "../../../provider/kerberos/kdc-transport";
import { parsePrincipal } from "../../../provider/kerberos/principal";
import { getServiceTickets } from "../../../provider/kerberos/tickets";
import { labAddr } from "../../fixtures/lab";
import { rejection } from "../../fixtures/rejection";
import { FakeKdc, FakeKdcSpec, startFakeKdc } from "./fake-kdc";

const REALM = "FAKE.EXAMPLE";
const USER = parsePrincipal(`svc-doctor@${REALM}`);
const PASSWORD = "Fake-Kdc-Pw-1!";
const ADDR = labAddr(250);

function spec(over: Partial<FakeKdcSpec> = {}): FakeKdcSpec {
  return {
    realm: REALM,
    user: { name: "svc-doctor", password: PASSWORD, etypes: [18, 17, 23] },
    services: { "HTTP/outlook.fake.example": { etype: 18, kvno: 7 }, "HTTP/legacy.fake.example": { etype: 23, kvno: 3 } },
    ...over,
  };
}

describe("kerberos: the TypeScript client against a scripted KDC", function () {
  this.timeout(20_000);
  const kdcs: FakeKdc[] = [];
  async function kdc(over: Partial<FakeKdcSpec> = {}, transport: "tcp" | "udp" = "tcp"): Promise<{ k: FakeKdc; o: KdcClientOptions }> {
    const k = await startFakeKdc(ADDR, spec(over));
    kdcs.push(k);
    const route: KdcRoute = { kind: "kdcs", kdcs: [{ transport, host: ADDR, port: k.port }], chosenBy: "the test", fix: "start the fake KDC" };
    return { k, o: { realm: REALM, route } };
  }
  after(async () => {
    await Promise.all(kdcs.map((k) => k.close()));
  });


  it("asks without pre-authentication, then with PA-ENC-TIMESTAMP under the ETYPE-INFO2 etype and salt; asks AES256, AES128, then RC4", async () => {
    const { k, o } = await kdc({ user: { name: "svc-doctor", password: PASSWORD, etypes: [17, 23], salt: "FAKE.EXAMPLEsomething-else" } });
    const tgt = await requestTgt(o, USER, PASSWORD);
    assert.deepEqual(k.log, ["AS-REQ tcp", "AS-REQ+ENC-TS tcp"]);
    assert.deepEqual(k.etypesAsked[0], [18, 17, 23]);
    assert.equal(tgt.replyKeyEtype, 17, "the account holds no AES256 key: AES128, not RC4");
    assert.equal(tgt.kdc, `${ADDR}:${k.port} (TCP)`);
    assert.ok(Math.abs(tgt.clockOffsetMs) <= 1000, `${tgt.clockOffsetMs}`);
  });

  it("uses RC4 only where the account has no other key, and says so", async () => {
    const { o } = await kdc({ user: { name: "svc-doctor", password: PASSWORD, etypes: [23] } });
    const r = await getServiceTickets({ client: USER, password: PASSWORD, realm: REALM, route: o.route }, ["HTTP/outlook.fake.example"]);
    assert.equal(r.logon.replyKeyEtype, 23);
    assert.equal(r.outcomes[0].ok, true);
  });

  it("carries each service ticket's etype and key version as the KDC wrote them, and names an unknown SPN", async () => {
    const { k, o } = await kdc();
    const r = await getServiceTickets({ client: USER, password: PASSWORD, realm: REALM, route: o.route }, ["HTTP/outlook.fake.example", "HTTP/legacy.fake.example", "HTTP/nobody.fake.example"], { sessionKeys: true });
    const [aes, rc4, none] = r.outcomes;
    assert.ok(aes.ok && rc4.ok && !none.ok);
    assert.deepEqual([aes.etypeName, aes.kvno, aes.server], ["aes256-cts-hmac-sha1-96", 7, `HTTP/outlook.fake.example@${REALM}`]);
    assert.deepEqual([rc4.etypeName, rc4.kvno, rc4.session?.key.etype], ["rc4-hmac", 3, 23]);
    assert.equal(none.code, "SPN_UNKNOWN");
    assert.match(none.cause, /KDC_ERR_S_PRINCIPAL_UNKNOWN/);
    assert.deepEqual(k.log, ["AS-REQ tcp", "AS-REQ+ENC-TS tcp", "TGS-REQ tcp", "TGS-REQ tcp", "TGS-REQ tcp"]);
  });

  it("a KDC clock 20 minutes behind: the timestamp and every authenticator are taken on the KDC's clock, and the offset is measured", async () => {
    const { k, o } = await kdc({ clockOffsetMs: -20 * 60_000 });
    const tgt = await requestTgt(o, USER, PASSWORD);
    assert.ok(Math.abs(tgt.clockOffsetMs + 1_200_000) <= 1000, `${tgt.clockOffsetMs}`);
    const t = await requestServiceTicket(o, tgt, parsePrincipal("HTTP/outlook.fake.example", REALM));
    assert.equal(t.service.components.join("/"), "HTTP/outlook.fake.example");
    assert.deepEqual(k.log, ["AS-REQ tcp", "AS-REQ+ENC-TS tcp", "TGS-REQ tcp"], "no request was refused for its time");
  });

  it("a KDC whose first error carries no time: KRB_AP_ERR_SKEW's stime corrects the timestamp, once", async () => {
    const { k, o } = await kdc({ clockOffsetMs: 20 * 60_000, noStimeInPreauthRequired: true });
    const tgt = await requestTgt(o, USER, PASSWORD);
    assert.deepEqual(k.log, ["AS-REQ tcp", "AS-REQ+ENC-TS tcp", "AS-REQ+ENC-TS tcp"]);
    assert.ok(Math.abs(tgt.clockOffsetMs - 1_200_000) <= 1000, `${tgt.clockOffsetMs}`);
  });

  it("names each refusal of the AS exchange with its own code, never the password for a clock", async () => {
    const cases: [Partial<FakeKdcSpec>, string, RegExp][] = [
      [{ asError: 6 }, "KDC_UNKNOWN_USER", /does not know the user svc-doctor@FAKE\.EXAMPLE \(KDC_ERR_C_PRINCIPAL_UNKNOWN/],
      [{ asError: 18 }, "KDC_LOGON_DENIED", /cannot log on \(KDC_ERR_CLIENT_REVOKED/],
      [{ asError: 23 }, "KDC_LOGON_DENIED", /KDC_ERR_KEY_EXPIRED/],
      [{ asError: 60 }, "KDC_REQUEST_REFUSED", /KRB_ERR_GENERIC/],
      [{ asError: 37, clockOffsetMs: 20 * 60_000 }, "CLOCK_SKEW", /this machine's clock is 1200 s behind the KDC's.*KRB_AP_ERR_SKEW/],
      [{ asRepWithOtherKey: true }, "KDC_PASSWORD_REFUSED", /does not decrypt with the key from the password/],
    ];
    for (const [over, code, cause] of cases) {
      const { o } = await kdc(over);
      const e = await rejection(requestTgt(o, USER, PASSWORD));
      assert.equal(e.code, code, e.message);
      assert.match(e.message, cause);
    }
    const { o } = await kdc();
    const wrong = await rejection(requestTgt(o, USER, "not-the-password"));
    assert.equal(wrong.code, "KDC_PASSWORD_REFUSED");
    assert.match(wrong.message, /KDC_ERR_PREAUTH_FAILED/);
  });

  it("over UDP, an answer too big for a datagram sends the same request over TCP", async () => {
    const { k, o } = await kdc({ udpTooBig: true }, "udp");
    const tgt = await requestTgt(o, USER, PASSWORD);
    assert.deepEqual(k.log, ["AS-REQ udp", "AS-REQ tcp", "AS-REQ udp", "AS-REQ+ENC-TS tcp"]);
    assert.equal(tgt.kdc, `${ADDR}:${k.port} (TCP)`);
  });

  it("no KDC answering is KDC_UNREACHABLE, naming each KDC tried, how they were chosen, and the fix", async () => {
    const route: KdcRoute = { kind: "kdcs", kdcs: [{ transport: "tcp", host: ADDR, port: 9 }, { transport: "udp", host: ADDR, port: 9 }], chosenBy: "the DC of ldapUrl", fix: "open TCP 88" };
    const e = await rejection(requestTgt({ realm: REALM, route, timeoutMs: 1500 }, USER, PASSWORD));
    assert.equal(e.code, "KDC_UNREACHABLE");
    assert.match(e.message, new RegExp(`no KDC of FAKE\\.EXAMPLE answered \\(the DC of ldapUrl\\): ${ADDR.replace(/\./g, "\\.")}:9 \\(TCP\\): .*ECONNREFUSED.*; ${ADDR.replace(/\./g, "\\.")}:9 \\(UDP\\): .*\\. Fix: open TCP 88`));
  });
});
