// MIT FILE: ccache reader (MIT krb5 doc/formats/ccache_file_format.rst), v3 and v4.
import assert from "node:assert/strict";
import { parseCcache, readCcacheFile } from "../../../provider/kerberos/ccache";
import { KerberosFormatError } from "../../../provider/kerberos/errors";
import { Principal } from "../../../provider/kerberos/principal";
import { ccache, ccacheConfigEntry } from "./builders";

const REALM = "CORP.EXAMPLE";
const alice: Principal = { nameType: 1, components: ["alice"], realm: REALM };
const http: Principal = { nameType: 2, components: ["HTTP", "outlook.corp.example"], realm: REALM };
const cred = {
  client: alice,
  server: http,
  key: { etype: 18, value: Buffer.alloc(32, 0xab) },
  authTime: 1764072000,
  startTime: 1764072060,
  endTime: 1764108000,
  renewTill: 0,
  flags: 0x40a10000,
  ticket: Buffer.from("6103020105", "hex"),
};

describe("kerberos ccache reader", () => {
  it("reads a v4 cache: header time offset, default principal, credential fields", () => {
    const c = parseCcache(ccache(0x0504, alice, [cred]));
    assert.equal(c.version, 0x0504);
    assert.deepEqual(c.kdcTimeOffset, { seconds: -3, microseconds: 250 });
    assert.deepEqual(c.defaultPrincipal, alice);
    assert.equal(c.credentials.length, 1);
    const k = c.credentials[0];
    assert.deepEqual(k.server, http);
    assert.equal(k.key.etype, 18);
    assert.equal(k.key.value.toString("hex"), "ab".repeat(32));
    assert.equal(k.authTime.getTime(), 1764072000 * 1000);
    assert.equal(k.startTime?.getTime(), 1764072060 * 1000);
    assert.equal(k.endTime.getTime(), 1764108000 * 1000);
    assert.equal(k.renewTill, undefined, "renew_till 0 means none");
    assert.equal(k.flags, 0x40a10000);
    assert.deepEqual(k.addresses, [{ type: 2, data: Buffer.from([127, 0, 0, 2]) }]);
    assert.equal(k.ticket.toString("hex"), "6103020105");
  });

  it("reads a v3 cache, whose keyblock repeats the enctype", () => {
    const c = parseCcache(ccache(0x0503, alice, [cred, { ...cred, server: { ...http, components: ["HTTP", "mail.corp.example"] } }]));
    assert.equal(c.version, 0x0503);
    assert.equal(c.kdcTimeOffset, undefined);
    assert.deepEqual(c.credentials.map((k) => k.server.components[1]), ["outlook.corp.example", "mail.corp.example"]);
    assert.equal(c.credentials[1].key.value.length, 32);
  });

  it("sets configuration entries (X-CACHECONF:) apart from credentials", () => {
    const c = parseCcache(ccache(0x0504, alice, [ccacheConfigEntry(alice, "fast_avail", "yes"), cred]));
    assert.equal(c.credentials.length, 1);
    assert.deepEqual(c.config, [{ key: "fast_avail", principal: undefined, value: Buffer.from("yes") }]);
  });

  it("refuses versions 1 and 2 (native byte order) and foreign files", () => {
    assert.throws(() => parseCcache(Buffer.from("0502", "hex")), /version 0x0502 is not supported/);
    assert.throws(() => parseCcache(Buffer.from("hello")), KerberosFormatError);
  });

  it("names the field where a truncated cache ends", () => {
    const full = ccache(0x0504, alice, [cred]);
    assert.throws(() => parseCcache(full.subarray(0, full.length - 10)), /truncated at offset \d+ reading second_ticket|truncated at offset \d+ reading ticket/);
  });

  it("refuses to read non-file cache types", async () => {
    await assert.rejects(readCcacheFile("KEYRING:persistent:0"), /KEYRING: credential caches are not files/);
  });
});
