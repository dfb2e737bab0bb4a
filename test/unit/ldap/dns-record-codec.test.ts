import { strict as assert } from "node:assert";
import {
  canonicalAddress,
  decodeCountName,
  decodeDnsRecord,
  decodeSoa,
  DnsType,
  encodeA,
  encodeAAAA,
  encodeCountName,
  encodeDnsRecord,
  encodeSoa,
  HEADER_LENGTH,
  nextSerial,
  recordText,
  tombstoneRecord,
} from "../../../provider/ldap/dns-record-codec";
import { tombstoneTime } from "../../fixtures/ldap-readers";
import { filetimeFromDate } from "../../../provider/ldap/filetime";

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ""), "hex");

describe("ldap/dns-record-codec: the dnsRecord attribute ([MS-DNSP] §2.3.2.2)", () => {
  it("lays out an A record field by field: LE header, big-endian TTL, 4 data bytes", () => {
    const b = encodeDnsRecord({ type: DnsType.A, data: encodeA("10.0.0.1"), ttl: 600, serial: 7 });
    assert.deepEqual(
      b,
      hex(`0400 0100 05 f0 0000 07000000 00000258 00000000 00000000 0a000001`),
      "DataLength=4 LE, Type=1 LE, Version 5, Rank 0xF0, Flags 0, Serial 7 LE, TTL 600 BE, Reserved 0, TimeStamp 0 (static)",
    );
    const r = decodeDnsRecord(b);
    assert.equal(r.ttl, 600);
    assert.equal(r.serial, 7);
    assert.equal(r.version, 5);
    assert.equal(r.rank, 0xf0);
    assert.equal(recordText(r), "10.0.0.1");
  });

  it("reads the TTL big-endian: 3600 is 00 00 0e 10 on disk, not 10 0e 00 00", () => {
    const b = encodeDnsRecord({ type: DnsType.A, data: encodeA("192.0.2.1"), ttl: 3600 });
    assert.deepEqual([...b.subarray(12, 16)], [0x00, 0x00, 0x0e, 0x10]);
    const swapped = Buffer.from(b);
    swapped.writeUInt32LE(3600, 12);
    assert.equal(decodeDnsRecord(swapped).ttl, 0x100e0000, "a little-endian TTL would decode as 269352960 s");
  });

  it("encodes AAAA as 16 network-order bytes and prints RFC 5952 text", () => {
    const d = encodeAAAA("2001:DB8:0:0:0:0:0:25");
    assert.deepEqual(d, hex("20010db8000000000000000000000025"));
    assert.equal(recordText(decodeDnsRecord(encodeDnsRecord({ type: DnsType.AAAA, data: d }))), "2001:db8::25");
    assert.equal(canonicalAddress("AAAA", "2001:db8:0:0:1:0:0:1"), "2001:db8::1:0:0:1");
    assert.equal(canonicalAddress("AAAA", "::ffff:192.0.2.1"), "::ffff:c000:201");
    assert.equal(canonicalAddress("A", "10.0.0.1"), "10.0.0.1");
  });

  it("writes a CNAME target as DNS_COUNT_NAME ([MS-DNSP] §2.2.2.2.2): length incl. final 0, label count, labels", () => {
    const d = encodeCountName("mail.corp.example.");
    assert.deepEqual(d, Buffer.concat([hex("13 03"), hex("04"), Buffer.from("mail"), hex("04"), Buffer.from("corp"), hex("07"), Buffer.from("example"), hex("00")]));
    assert.equal(d[0], 19, "4+1 + 4+1 + 7+1 + the final 0");
    assert.deepEqual(decodeCountName(d), { name: "mail.corp.example", length: 21 });
    const rec = decodeDnsRecord(encodeDnsRecord({ type: DnsType.CNAME, data: d }));
    assert.equal(rec.data.length, 21);
    assert.equal(recordText(rec), "mail.corp.example");
  });

  it("refuses corrupt names and records instead of reading past them", () => {
    assert.throws(() => decodeCountName(hex("13 03 04")), /truncated/);
    assert.throws(() => decodeCountName(Buffer.concat([hex("06 02 04"), Buffer.from("mail"), hex("00")])), /labels/);
    assert.throws(() => decodeDnsRecord(hex("0400 0100 05f0 0000")), /at least 24/);
    assert.throws(() => decodeDnsRecord(Buffer.concat([hex("0800 0100 05 f0 0000"), Buffer.alloc(16), hex("0a000001")])), /DataLength 8/);
    assert.throws(() => encodeCountName("a..b"), /empty or over-long label/);
  });

  it("reads and rewrites SOA data with big-endian numbers ([MS-DNSP] §2.2.2.2.4.3)", () => {
    const soa = { serial: 41, refresh: 900, retry: 600, expire: 86400, minimumTtl: 3600, primaryServer: "dc1.corp.example", zoneAdministratorEmail: "hostmaster.corp.example" };
    const d = encodeSoa(soa);
    assert.deepEqual([...d.subarray(0, 4)], [0, 0, 0, 41]);
    assert.deepEqual(decodeSoa(d), soa);
    assert.equal(nextSerial(41), 42);
    assert.equal(nextSerial(0xffffffff), 1, "RFC 1982 wrap, skipping 0");
  });

  it("builds the tombstone Windows writes: Type 0, data = 8-byte FILETIME of the deletion", () => {
    const when = filetimeFromDate(new Date("2026-04-01T12:00:00Z"));
    const b = tombstoneRecord(when, 9);
    assert.equal(b.length, HEADER_LENGTH + 8);
    assert.equal(b.readUInt16LE(0), 8);
    assert.equal(b.readUInt16LE(2), DnsType.ZERO);
    const r = decodeDnsRecord(b);
    assert.equal(tombstoneTime(r), when);
    assert.equal(recordText(r), undefined, "a tombstone has no value to answer with");
  });
});
