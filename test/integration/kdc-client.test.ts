// The TypeScript Kerberos client (provider/kerberos/kdc-client.ts) against Samba's real KDC, with
// MIT's kinit and kvno as the judge: the same service tickets (etype, key version, service), over
// TCP and over UDP (which falls back to TCP for AD's large answers), RC4 end to end where only RC4
// is asked for, each refusal of the real KDC under the code the doctor reports (and MIT refusing
// alike), and the realm's SRV records.
import assert from "node:assert/strict";
import { readCcacheFile } from "../../provider/kerberos/ccache";
import { requestServiceTicket, requestTgt } from "../../provider/kerberos/kdc-client";
import { kdcsFromSrv } from "../../provider/kerberos/kdc-location";
import { KdcRoute } from "../../provider/kerberos/kdc-transport";
import { adUserPrincipal, parsePrincipal, samePrincipal } from "../../provider/kerberos/principal";
import { decodeTicket } from "../../provider/kerberos/ticket";
import { getServiceTickets } from "../../provider/kerberos/tickets";
import { KerberosShell } from "../fixtures/admin-tools";
import { rejection } from "../fixtures/rejection";
import { Lab, labAddr, sambaTool, startLab, stopLab } from "../fixtures/lab";

const SPNS = ["HTTP/legacy.corp.example", "host/dc1.corp.example"];
const USER_PASSWORD = "Kdc-Client-User-4e1d!";

describe("kerberos client against Samba's KDC (MIT kinit/kvno as the judge)", function () {
  this.timeout(120_000);
  let lab: Lab;
  let shell: KerberosShell;
  const tcp = (): KdcRoute => ({ kind: "kdcs", kdcs: [{ transport: "tcp", host: lab.addr, port: 88 }], chosenBy: "the lab's DC", fix: "start the lab" });

  before(async function () {
    lab = await startLab(labAddr(60));
    shell = new KerberosShell(lab);
    await sambaTool(lab, ["user", "create", "kc-disabled", USER_PASSWORD]);
    await sambaTool(lab, ["user", "disable", "kc-disabled"]);
  });
  after(async () => {
    if (lab) await stopLab(lab);
  });


  it("issues the tickets MIT's kinit and kvno get: same service, etype and key version, over TCP and over UDP", async () => {
    shell.fresh();
    shell.kinitAdmin();
    for (const spn of SPNS) assert.equal(shell.kvno(spn).status, 0, spn);
    const mit = (await readCcacheFile(shell.ccachePath())).credentials.map((c) => ({ server: c.server, ticket: decodeTicket(c.ticket) }));
    for (const transport of ["tcp", "udp"] as const) {
      const route: KdcRoute = { kind: "kdcs", kdcs: [{ transport, host: lab.addr, port: 88 }], chosenBy: "the lab's DC", fix: "start the lab" };
      const r = await getServiceTickets({ client: adUserPrincipal(lab.adminUser, lab.realm), password: lab.adminPassword, realm: lab.realm, route }, SPNS);
      assert.equal(r.logon.client, `Administrator@${lab.realm}`);
      assert.equal(r.logon.kdc, `${lab.addr}:88 (TCP)`, "AD's AS-REP does not fit a datagram: Samba says KRB_ERR_RESPONSE_TOO_BIG");
      assert.ok(Math.abs(r.logon.clockOffsetMs) <= 1000);
      for (const o of r.outcomes) {
        assert.ok(o.ok, JSON.stringify(o));
        const theirs = mit.find((m) => samePrincipal(m.server, parsePrincipal(o.spn, lab.realm)));
        assert.ok(theirs, `MIT has no ticket for ${o.spn}`);
        assert.deepEqual([o.etype, o.kvno], [theirs.ticket.encPart.etype, theirs.ticket.encPart.kvno], o.spn);
        assert.equal(o.server, `${o.spn}@${lab.realm}`);
      }
    }
  });

  it("speaks RC4 (RFC 4757) with the real KDC where only RC4 is asked for: the TGT, the checksum and the TGS-REP", async () => {
    const o = { realm: lab.realm, route: tcp(), etypes: [23] };
    const tgt = await requestTgt(o, adUserPrincipal(`${lab.netbios}\\Administrator`, lab.realm, lab.netbios), lab.adminPassword);
    assert.deepEqual([tgt.replyKeyEtype, tgt.sessionKey.etype], [23, 23]);
    const t = await requestServiceTicket(o, tgt, parsePrincipal(SPNS[1], lab.realm));
    assert.equal(t.sessionKey.etype, 23);
  });

  it("names the real KDC's refusals as the doctor reports them, where MIT's kinit is refused too", async () => {
    const cases: [string, string, string, RegExp][] = [
      [`nobody-here@${lab.domain}`, "x", "KDC_UNKNOWN_USER", /Client .*not found/],
      [lab.adminUser, "not-the-password", "KDC_PASSWORD_REFUSED", /Password incorrect|Preauthentication failed/],
      [`kc-disabled@${lab.domain}`, USER_PASSWORD, "KDC_LOGON_DENIED", /revoked|disabled/i],
    ];
    for (const [user, password, code, mitSays] of cases) {
      const e = await rejection(requestTgt({ realm: lab.realm, route: tcp() }, adUserPrincipal(user, lab.realm), password));
      assert.equal(e.code, code, `${user}: ${e.message}`);
      shell.fresh();
      const mit = shell.kinit(`${adUserPrincipal(user, lab.realm).components[0]}@${lab.realm}`, password);
      assert.notEqual(mit.status, 0, `${user}: MIT kinit got a TGT`);
      assert.match(mit.stderr, mitSays, user);
    }
  });

  it("finds the KDC by the realm's _kerberos._tcp SRV records at the domain's DNS", async () => {
    const kdcs = await kdcsFromSrv(lab.realm, lab.addr);
    assert.deepEqual(kdcs, [{ transport: "tcp", host: lab.addr, port: 88 }]);
    const tgt = await requestTgt({ realm: lab.realm, route: { kind: "kdcs", kdcs, chosenBy: "SRV", fix: "-" } }, adUserPrincipal(lab.adminUser, lab.realm), lab.adminPassword);
    assert.equal(tgt.kdc, `${lab.addr}:88 (TCP)`);
  });
});
