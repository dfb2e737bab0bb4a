// MIT keytab v2 writer/reader, byte-compared with what MIT ktutil 1.20 wrote for the same entry.
import assert from "node:assert/strict";
import { stringToKey } from "../../../provider/kerberos/crypto";
import { encodeKeytab, parseKeytab } from "../../../provider/kerberos/keytab";
import { parsePrincipal } from "../../../provider/kerberos/principal";
import { adAccountSalt } from "../../../provider/kerberos/salt";

// `ktutil addent -password -p HTTP/ektest.corp.example@CORP.EXAMPLE -k 3 -e aes256-cts-hmac-sha1-96
//  -s CORP.EXAMPLEhostektest.corp.example` (password Passw0rd!), `wkt`, at 2026-11-25 12:23:50 UTC.
const KTUTIL = Buffer.from(
  (
    "0502 0000005c 0002 000c 434f52502e4558414d504c45 0004 48545450 0013 656b746573742e636f72702e6578616d706c65" +
    " 00000001 6b06d356 03 0012 0020 12730940aeef01c781c7344719b474d8deb3c90e7ea20e368ee71aa6958fc3a6 00000003"
  ).replace(/\s+/g, ""),
  "hex",
);

describe("kerberos keytab", () => {
  it("writes the same bytes as MIT ktutil for a key derived from the ASA password", () => {
    const principal = parsePrincipal("HTTP/ektest.corp.example@CORP.EXAMPLE");
    principal.nameType = 1; // ktutil writes KRB5_NT_PRINCIPAL whatever the component count
    const key = { etype: 18, value: stringToKey(18, "Passw0rd!", adAccountSalt("CORP.EXAMPLE", "EKTEST$")) };
    const bytes = encodeKeytab([{ principal, kvno: 3, key, timestamp: new Date(0x6b06d356 * 1000) }]);
    assert.equal(bytes.toString("hex"), KTUTIL.toString("hex"));
  });

  it("reads ktutil's keytab back", () => {
    const [e] = parseKeytab(KTUTIL);
    assert.deepEqual(e.principal, { nameType: 1, components: ["HTTP", "ektest.corp.example"], realm: "CORP.EXAMPLE" });
    assert.equal(e.kvno, 3);
    assert.equal(e.key.etype, 18);
    assert.equal(e.timestamp.getTime(), 0x6b06d356 * 1000);
  });

  it("keeps a kvno above 255 in the trailing 32-bit field", () => {
    const principal = parsePrincipal("HTTP/a.corp.example@CORP.EXAMPLE");
    const bytes = encodeKeytab([{ principal, kvno: 300, key: { etype: 17, value: Buffer.alloc(16, 1) } }]);
    assert.equal(parseKeytab(bytes)[0].kvno, 300);
  });

  it("skips holes (negative record lengths)", () => {
    const hole = Buffer.from("fffffff8" + "00".repeat(8), "hex");
    const one = encodeKeytab([{ principal: parsePrincipal("a@R"), kvno: 1, key: { etype: 17, value: Buffer.alloc(16) } }]);
    const withHole = Buffer.concat([one.subarray(0, 2), hole, one.subarray(2)]);
    assert.equal(parseKeytab(withHole).length, 1);
  });

  it("refuses a file that is not a v2 keytab", () => {
    assert.throws(() => parseKeytab(Buffer.from("0501", "hex")), /not a version 0x0502 keytab/);
  });
});
