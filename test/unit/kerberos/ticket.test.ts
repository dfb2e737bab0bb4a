// Ticket decoding and decryption (RFC 4120 §5.3, key usage 2 per §7.5.1) and the doctor's
// verifyServiceTicket on tickets built here: right password, wrong password, RC4, wrong SPN.
import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { stringToKey } from "../../../provider/kerberos/crypto";
import { ETYPE } from "../../../provider/kerberos/etype";
import { KerberosFormatError } from "../../../provider/kerberos/errors";
import { Principal } from "../../../provider/kerberos/principal";
import { adAccountSalt } from "../../../provider/kerberos/salt";
import { decodeTicket, decryptTicket } from "../../../provider/kerberos/ticket";
import { verifyServiceTicket, verifyTicketBytes } from "../../../provider/kerberos/verify";
import { ccache, ticket, ticketWithCipher } from "./builders";
import { KAT_PASSWORD, KAT_REALM, KAT_SAM, KAT_SPN, KAT_TICKET } from "./fixtures/samba-kdc-ticket";

const REALM = "CORP.EXAMPLE";
const SPN = "HTTP/outlook.corp.example";
const ASA = "EXASA$";
const PASSWORD = "correct horse battery staple 73 chars long…";
const server: Principal = { nameType: 2, components: ["HTTP", "outlook.corp.example"], realm: REALM };
const client: Principal = { nameType: 1, components: ["alice"], realm: REALM };
const authTime = new Date(Date.UTC(2026, 10, 25, 12, 0, 0));
const endTime = new Date(Date.UTC(2026, 10, 25, 22, 0, 0));

function asaKey(etype: 17 | 18, password = PASSWORD) {
  return { etype, value: stringToKey(etype, password, adAccountSalt(REALM, ASA)) };
}

const args = { spn: SPN, asaPassword: PASSWORD, asaSamAccountName: ASA, realm: REALM };

describe("kerberos ticket: decode and decrypt", () => {
  it("decodes the outer Ticket: realm, sname, etype, kvno", () => {
    const t = decodeTicket(ticket(server, asaKey(18), 7, { client, authTime, endTime }));
    assert.equal(t.realm, REALM);
    assert.deepEqual(t.sname.components, ["HTTP", "outlook.corp.example"]);
    assert.equal(t.encPart.etype, 18);
    assert.equal(t.encPart.kvno, 7);
  });

  for (const etype of [17, 18] as const) {
    it(`decrypts the etype ${etype} enc-part with the service key and reads client and times`, () => {
      const t = decodeTicket(ticket(server, asaKey(etype), 2, { client, authTime, endTime }));
      const r = decryptTicket(t, asaKey(etype));
      assert.equal(r.kind, "decrypted");
      if (r.kind !== "decrypted") return;
      assert.deepEqual(r.part.cname.components, ["alice"]);
      assert.equal(r.part.crealm, REALM);
      assert.equal(r.part.authTime.getTime(), authTime.getTime());
      assert.equal(r.part.endTime.getTime(), endTime.getTime());
      assert.equal(r.part.sessionKeyEtype, 18);
      assert.equal(r.part.flags >>> 0, 0x40e10000);
    });
  }

  it("reports a wrong key as wrong-key, not as an exception", () => {
    const t = decodeTicket(ticket(server, asaKey(18), 2, { client, authTime, endTime }));
    assert.equal(decryptTicket(t, asaKey(18, "another password")).kind, "wrong-key");
  });

  it("does not try RC4 and says so", () => {
    const t = decodeTicket(ticketWithCipher(server, ETYPE.RC4_HMAC, 2, Buffer.alloc(64, 1)));
    const r = decryptTicket(t, asaKey(18));
    assert.deepEqual(r.kind === "unsupported-etype" && r.etype, 23);
  });

  it("refuses bytes that are not a Ticket", () => {
    assert.throws(() => decodeTicket(Buffer.from("30030201", "hex")), KerberosFormatError);
  });
});

describe("kerberos verifyServiceTicket", () => {
  it("passes when the ticket decrypts with the key from the ASA password (etype 18)", () => {
    const r = verifyTicketBytes(ticket(server, asaKey(18), 3, { client, authTime, endTime }), args);
    assert.equal(r.ok, true);
    assert.equal(r.code, "OK");
    assert.equal(r.etype, 18);
    assert.equal(r.kvno, 3);
    assert.equal(r.client, "alice@CORP.EXAMPLE");
    assert.equal(r.cause, undefined);
  });

  it("names KRB_AP_ERR_MODIFIED and the fix when the password differs from AD's", () => {
    const bytes = ticket(server, asaKey(18, "the password AD really has"), 3, { client, authTime, endTime });
    const r = verifyTicketBytes(bytes, args);
    assert.equal(r.ok, false);
    assert.equal(r.code, "KRB_AP_ERR_MODIFIED");
    assert.match(r.cause ?? "", /^KRB_AP_ERR_MODIFIED: the server's key does not match the ticket: the ASA password on the server differs from AD's/);
    assert.match(r.fix ?? "", /EXASA\$/);
  });

  it("never puts the password in the result", () => {
    const bad = verifyTicketBytes(ticket(server, asaKey(18, "x"), 3, { client, authTime, endTime }), args);
    const good = verifyTicketBytes(ticket(server, asaKey(18), 3, { client, authTime, endTime }), args);
    for (const r of [bad, good]) assert.ok(!JSON.stringify(r).includes(PASSWORD));
  });

  it("calls a ticket older than AD's key version stale instead of blaming the servers", () => {
    const bytes = ticket(server, asaKey(18, "the previous password"), 3, { client, authTime, endTime });
    const r = verifyTicketBytes(bytes, { ...args, kvno: 4 });
    assert.equal(r.code, "STALE_TICKET");
    assert.match(r.fix ?? "", /purge/);
  });

  it("uses the computer-account salt: the same password with a user-style salt fails", () => {
    const userSalted = { etype: 18, value: stringToKey(18, PASSWORD, `${REALM}EXASA$`) };
    const r = verifyTicketBytes(ticket(server, userSalted, 3, { client, authTime, endTime }), args);
    assert.equal(r.code, "KRB_AP_ERR_MODIFIED");
    const overridden = verifyTicketBytes(ticket(server, userSalted, 3, { client, authTime, endTime }), { ...args, salt: `${REALM}EXASA$` });
    assert.equal(overridden.ok, true);
  });

  it("reports an RC4 ticket with the AES advice, without decrypting", () => {
    const r = verifyTicketBytes(ticketWithCipher(server, 23, 3, Buffer.alloc(80, 2)), args);
    assert.equal(r.code, "RC4_TICKET");
    assert.equal(r.etype, 23);
    assert.match(r.cause ?? "", /RC4/);
    assert.match(r.fix ?? "", /msDS-SupportedEncryptionTypes to 24/);
  });

  it("reports another etype (DES) as unsupported", () => {
    const r = verifyTicketBytes(ticketWithCipher(server, 3, 3, Buffer.alloc(40, 2)), args);
    assert.equal(r.code, "UNSUPPORTED_ETYPE");
  });

  it("refuses a ticket for another service", () => {
    const other: Principal = { ...server, components: ["HTTP", "mail.corp.example"] };
    const r = verifyTicketBytes(ticket(other, asaKey(18), 3, { client, authTime, endTime }), args);
    assert.equal(r.code, "WRONG_SERVICE");
    assert.match(r.cause ?? "", /HTTP\/mail\.corp\.example@CORP\.EXAMPLE/);
  });

  it("matches the SPN case-insensitively, as AD does", () => {
    const r = verifyTicketBytes(ticket(server, asaKey(17), 3, { client, authTime, endTime }), { ...args, spn: "http/Outlook.Corp.Example" });
    assert.equal(r.ok, true);
    assert.equal(r.etype, 17);
  });

  it("reports bytes that do not decode as MALFORMED", () => {
    const r = verifyTicketBytes(Buffer.from("6103020105", "hex"), args);
    assert.equal(r.code, "MALFORMED");
  });

  describe("from a ccache file", () => {
    let dir = "";
    before(async () => {
      dir = await mkdtemp(join(tmpdir(), "ek-unit-"));
    });
    after(async () => {
      await rm(dir, { recursive: true, force: true });
    });

    const cred = (server: Principal, t: Buffer) => ({
      client,
      server,
      key: { etype: 18, value: Buffer.alloc(32, 9) },
      authTime: 1764072000,
      startTime: 1764072000,
      endTime: 1764108000,
      renewTill: 0,
      flags: 0x40e10000,
      ticket: t,
    });

    it("finds the SPN's ticket among others and verifies it", async () => {
      const tgt: Principal = { nameType: 2, components: ["krbtgt", REALM], realm: REALM };
      const path = join(dir, "good");
      await writeFile(path, ccache(0x0504, client, [cred(tgt, Buffer.from("not a ticket")), cred(server, ticket(server, asaKey(18), 5, { client, authTime, endTime }))]));
      const r = await verifyServiceTicket({ ...args, ccachePath: `FILE:${path}` });
      assert.equal(r.ok, true);
      assert.equal(r.kvno, 5);
    });

    it("says NO_TICKET and lists what the cache holds when the SPN's ticket is missing", async () => {
      const tgt: Principal = { nameType: 2, components: ["krbtgt", REALM], realm: REALM };
      const path = join(dir, "tgt-only");
      await writeFile(path, ccache(0x0504, client, [cred(tgt, Buffer.from("x"))]));
      const r = await verifyServiceTicket({ ...args, ccachePath: path });
      assert.equal(r.code, "NO_TICKET");
      assert.match(r.cause ?? "", /krbtgt\/CORP\.EXAMPLE@CORP\.EXAMPLE/);
      assert.match(r.fix ?? "", /kvno HTTP\/outlook\.corp\.example/);
    });

    it("says MALFORMED for a file that is not a ccache", async () => {
      const path = join(dir, "junk");
      await writeFile(path, Buffer.from("hello"));
      const r = await verifyServiceTicket({ ...args, ccachePath: path });
      assert.equal(r.code, "MALFORMED");
    });
  });
});

describe("kerberos ticket: a known answer from Samba's KDC (Heimdal)", () => {
  it("decrypts a real aes256 service ticket with the key derived from the account's password and AD salt", () => {
    const t = decodeTicket(KAT_TICKET);
    assert.equal(t.encPart.etype, ETYPE.AES256_CTS_HMAC_SHA1_96);
    const key = { etype: t.encPart.etype, value: stringToKey(t.encPart.etype, KAT_PASSWORD, adAccountSalt(KAT_REALM, KAT_SAM)) };
    assert.equal(key.value.length, 32);
    const r = decryptTicket(t, key);
    assert.equal(r.kind, "decrypted");
    if (r.kind !== "decrypted") return;
    assert.deepEqual(r.part.cname.components, ["Administrator"]);
    assert.equal(r.part.crealm, KAT_REALM);
    assert.ok(r.part.endTime > r.part.authTime);
  });

  it("verifies it through verifyTicketBytes, and names KRB_AP_ERR_MODIFIED for any other password", () => {
    const ok = verifyTicketBytes(KAT_TICKET, { spn: KAT_SPN, asaPassword: KAT_PASSWORD, asaSamAccountName: KAT_SAM, realm: KAT_REALM });
    assert.equal(ok.code, "OK");
    assert.equal(ok.client, "Administrator@CORP.EXAMPLE");
    const bad = verifyTicketBytes(KAT_TICKET, { spn: KAT_SPN, asaPassword: `${KAT_PASSWORD}x`, asaSamAccountName: KAT_SAM, realm: KAT_REALM });
    assert.equal(bad.code, "KRB_AP_ERR_MODIFIED");
  });
});
