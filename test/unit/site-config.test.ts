// The site program's settings, read strictly from stack config text: each bad value refused with
// its config key and the form it expects, before anything is declared.
import * as assert from "assert";
import * as pulumi from "@pulumi/pulumi";
import { readSiteSettings, SiteKey } from "../../provider/site-config";
import { InvalidProgramInputError } from "../../provider/program-error";
import { booleanValue, integerValue, stringListValue } from "../../provider/config-values";
import { InvalidInputError } from "../../provider/errors";

const base: Partial<Record<SiteKey, string>> = {
  namespace: "outlook.corp.example",
  servers: '["EX1","EX2"]',
  dnsZone: "corp.example",
  dnsAddresses: '["192.0.2.11","192.0.2.12"]',
  asaName: "EXCH-ASA",
  asaOu: "OU=Service Accounts,DC=corp,DC=example",
  extraSpnNames: '["autodiscover.corp.example"]',
};

function read(over: Partial<Record<SiteKey, string | undefined>>) {
  const values = { ...base, ...over };
  return readSiteSettings((k) => values[k]);
}

/** Refused with exactly the lines matching `lines`, each one line with a fix. */
function refused(over: Partial<Record<SiteKey, string | undefined>>, ...lines: RegExp[]): void {
  assert.throws(() => read(over), (e: unknown) => {
    assert.ok(e instanceof InvalidProgramInputError, String(e));
    assert.ok(pulumi.RunError.isInstance(e));
    const got = e.message.split("\n");
    assert.strictEqual(got.length, lines.length, e.message);
    lines.forEach((l, i) => {
      assert.match(got[i], l);
      assert.match(got[i], /\. Fix: \S/);
      assert.doesNotMatch(got[i], /\n|\u001b/);
    });
    return true;
  });
}

describe("site settings: strict parsing of every key", () => {
  it("dnsTtl: the record's TTL, only beside dnsZone", () => {
    assert.deepStrictEqual(read({ dnsTtl: "900" }).dns, { zone: "corp.example", addresses: ["192.0.2.11", "192.0.2.12"], ttl: 900 });
    refused({ dnsTtl: "9e2" }, /^exchange-kerberos:dnsTtl: "9e2" is not a whole decimal or 0x-hex number/);
    refused({ dnsTtl: "60", dnsZone: undefined, dnsAddresses: undefined }, /^exchange-kerberos:dnsTtl: is set, but exchange-kerberos:dnsZone is not/);
  });

  it("reads a well-formed site", () => {
    const s = read({ asaEncryptionTypes: "0x18", adopt: "true" });
    assert.deepStrictEqual(s.servers, ["EX1", "EX2"]);
    assert.deepStrictEqual(s.dns, { zone: "corp.example", addresses: ["192.0.2.11", "192.0.2.12"] });
    assert.strictEqual(s.asa.supportedEncryptionTypes, 24);
    assert.strictEqual(s.adopt, true);
    assert.strictEqual(read({ asaEncryptionTypes: "56", adopt: undefined }).asa.supportedEncryptionTypes, 56);
    assert.strictEqual(read({ extraSpnNames: undefined, dnsZone: undefined, dnsAddresses: undefined }).dns, undefined);
  });

  it("lists: a JSON array of strings, nothing else", () => {
    refused({ servers: '"EX1"' }, /^exchange-kerberos:servers: "\\"EX1\\"" is a JSON string, not a list\. Fix: .*'\["EX1","EX2"\]'/);
    refused({ servers: '{"a":1}' }, /^exchange-kerberos:servers: .* is a JSON object, not a list/);
    refused({ extraSpnNames: '{"a":"b"}' }, /^exchange-kerberos:extraSpnNames: .* is a JSON object, not a list/);
    refused({ servers: "EX1,EX2" }, /^exchange-kerberos:servers: "EX1,EX2" is not JSON/);
    refused({ servers: "[123]" }, /^exchange-kerberos:servers\[0\]: 123 is not a string/);
    refused({ servers: "[null]" }, /^exchange-kerberos:servers\[0\]: null is not a string/);
    refused({ dnsAddresses: "[1]" }, /^exchange-kerberos:dnsAddresses\[0\]: 1 is not a string/);
    refused({ servers: "null" }, /^exchange-kerberos:servers: "null" is null, not a list/);
    refused({ servers: "" }, /^exchange-kerberos:servers: is empty/);
    refused({ servers: undefined }, /^exchange-kerberos:servers: is not set \(required\)/);
    refused({ servers: "[]" }, /^exchange-kerberos:servers: is empty/);
    refused({ servers: '["EX1","EX1"]' }, /^exchange-kerberos:servers\[1\]: lists EX1 a second time/);
  });

  it("numbers: whole decimal or 0x-hex, written exactly", () => {
    for (const bad of ["24abc", "24.0", "2.4e1", " 24", "24 ", "+24", "-24", "024", "0x", "0x1g", "twenty-four", "Infinity", "NaN"]) {
      refused({ asaEncryptionTypes: bad }, /^exchange-kerberos:asaEncryptionTypes: .* is not a whole decimal or 0x-hex number\. Fix: write a whole number/);
    }
    refused({ asaEncryptionTypes: "" }, /^exchange-kerberos:asaEncryptionTypes: is empty/);
    refused({ asaEncryptionTypes: "0" }, /^exchange-kerberos:asaEncryptionTypes: 0 is outside 1 to 2147483647/);
    refused({ asaEncryptionTypes: "0x4" }, /^exchange-kerberos:asaEncryptionTypes: 4 \(0x4\) allows no AES type \(RC4 only\)/);
    refused({ asaEncryptionTypes: "99999999999" }, /outside 1 to 2147483647/);
  });

  it("booleans: true or false", () => {
    for (const bad of ["yes", "1", "True", "FALSE", "on", " true"]) refused({ adopt: bad }, /^exchange-kerberos:adopt: .* is not true or false\. Fix: set true or false/);
    assert.strictEqual(read({ adopt: "false" }).adopt, false);
  });

  it("names and DNs: named by their key, with the component's checks", () => {
    refused({ namespace: "outlook.corp.example." }, /^exchange-kerberos:namespace: "outlook\.corp\.example\." ends with a dot\. Fix: write it without the trailing dot \(outlook\.corp\.example\)/);
    refused({ namespace: '"outlook.corp.example"' }, /^exchange-kerberos:namespace: .* is not a fully qualified DNS name/);
    refused({ namespace: "mail.other.example" }, /^exchange-kerberos:dnsZone: the namespace mail\.other\.example is not in the zone corp\.example/);
    refused({ namespace: undefined }, /^exchange-kerberos:namespace: is not set \(required\)\. Fix: pulumi config set exchange-kerberos:namespace outlook\.corp\.example/);
    refused({ namespace: "  " }, /^exchange-kerberos:namespace: is empty/);
    refused({ extraSpnNames: '["*.corp.example"]' }, /^exchange-kerberos:extraSpnNames\[0\]: .* is not a fully qualified DNS name/);
    refused({ asaName: "EXCHANGE-ASA-ACCOUNT" }, /^exchange-kerberos:asaName: .* at most 15/);
    refused({ asaOu: "Service Accounts" }, /^exchange-kerberos:asaOu: /);
    refused({ dnsAddresses: '["192.0.2.300"]' }, /^exchange-kerberos:dnsAddresses\[0\]: "192\.0\.2\.300" is not an IPv4 address/);
    refused({ dnsAddresses: undefined }, /^exchange-kerberos:dnsAddresses: is not set, but exchange-kerberos:dnsZone is/);
    refused({ dnsZone: undefined }, /^exchange-kerberos:dnsZone: is not set, but exchange-kerberos:dnsAddresses is/);
    refused({ asaPassword: "" }, /^exchange-kerberos:asaPassword: is empty\. Fix: pulumi config set --secret/);
  });

  it("the KDC proxy: both keys or neither, each value named by its key", () => {
    const thumb = "0123456789abcdef0123456789abcdef01234567";
    assert.deepStrictEqual(read({ kdcProxyServers: '["GW1","gw2.corp.example"]', kdcProxyThumbprint: thumb }).kdcProxy, { servers: ["GW1", "gw2.corp.example"], certificateThumbprint: thumb });
    assert.strictEqual(read({}).kdcProxy, undefined);
    refused({ kdcProxyServers: '["GW1"]' }, /^exchange-kerberos:kdcProxyThumbprint: is not set, but exchange-kerberos:kdcProxyServers is/);
    refused({ kdcProxyThumbprint: thumb }, /^exchange-kerberos:kdcProxyServers: is not set, but exchange-kerberos:kdcProxyThumbprint is/);
    refused({ kdcProxyServers: '["GW1"]', kdcProxyThumbprint: "abc" }, /^exchange-kerberos:kdcProxyThumbprint: "abc" is not a certificate thumbprint/);
    refused({ kdcProxyServers: '["GW1","gw1"]', kdcProxyThumbprint: thumb }, /^exchange-kerberos:kdcProxyServers\[1\]: lists gw1 a second time/);
    refused({ kdcProxyServers: "[]", kdcProxyThumbprint: thumb }, /^exchange-kerberos:kdcProxyServers: is empty/);
  });

  it("reports every problem of one kind at once, one line each", () => {
    refused({ servers: '"EX1"', asaEncryptionTypes: "24abc", adopt: "yes" }, /exchange-kerberos:servers:/, /exchange-kerberos:asaEncryptionTypes:/, /exchange-kerberos:adopt:/);
  });
});

describe("config values: the strict readers settings.ts shares", () => {
  it("read exactly one written form each", () => {
    const r = { min: 1, max: 100, unit: "milliseconds", example: "50" };
    assert.strictEqual(integerValue("k", "0x10", r), 16);
    assert.strictEqual(integerValue("k", "0X1f", r), 31);
    assert.strictEqual(integerValue("k", undefined, r), undefined);
    assert.throws(() => integerValue("k", "101", r), (e: unknown) => e instanceof InvalidInputError && e.field === "k");
    assert.strictEqual(booleanValue("k", "true"), true);
    assert.deepStrictEqual(stringListValue("k", '["a"]', ["x"]), ["a"]);
    assert.deepStrictEqual(stringListValue("k", "[]", ["x"]), []);
  });
});

describe("site settings: the documented stack files", () => {
  for (const file of ["Pulumi.berlin.yaml", "Pulumi.newyork.yaml", "Pulumi.lab.yaml"]) {
    it(`examples/${file} passes the strict reading`, () => {
      const text = require("fs").readFileSync(require("path").join(__dirname, "..", "..", "..", "examples", file), "utf8") as string;
      const values: Record<string, string> = {};
      for (const m of text.matchAll(/^ {2}exchange-kerberos:(\w+): (.+)$/gm)) values[m[1]] = m[2].replace(/^'(.*)'$/, "$1").replace(/^"(.*)"$/, "$1");
      assert.ok(values.namespace, "the file names a namespace");
      assert.doesNotThrow(() => readSiteSettings((k) => values[k]));
    });
  }
});

describe("connection settings: as strict as the site's", () => {
  const { configFromMap, configureFromStack, exchangeSettings, ldapSettings } = require("../../provider/settings") as typeof import("../../provider/settings");
  const base = { ldapUrl: "ldaps://dc1.corp.example", ldapBindUser: "svc@corp.example", ldapBindPassword: "Bind-Passw0rd-1" };
  const refusedOn = (over: Record<string, string>, key: string, text: RegExp, read: () => unknown = () => ldapSettings()) => {
    configureFromStack(configFromMap({ ...base, ...over }));
    assert.throws(read, (e: unknown) => e instanceof InvalidInputError && e.field === `exchange-kerberos:${key}` && text.test(e.message) && /Fix: /.test(e.message) && !e.message.includes(base.ldapBindPassword));
  };
  afterEach(() => configureFromStack(configFromMap({})));

  it("numbers and booleans have one written form", () => {
    refusedOn({ ldapTimeoutMs: "15s" }, "ldapTimeoutMs", /not a whole decimal or 0x-hex number/);
    refusedOn({ ldapTimeoutMs: "0" }, "ldapTimeoutMs", /outside 1 to/);
    refusedOn({ ldapStartTls: "yes" }, "ldapStartTls", /not true or false/);
    refusedOn({ ldapVerifyCertificate: "0" }, "ldapVerifyCertificate", /not true or false/);
    refusedOn({ exchangeTimeoutMs: "-1" }, "exchangeTimeoutMs", /not a whole decimal/, () => exchangeSettings());
    configureFromStack(configFromMap({ ...base, ldapTimeoutMs: "0x3a98", ldapStartTls: "false" }));
    assert.strictEqual(ldapSettings().timeoutMs, 15000);
  });

  it("an ldap:// URL gets StartTLS, the GC's too; without it a plain-text bind is refused naming the key", () => {
    configureFromStack(configFromMap({ ...base, gcUrl: "ldap://dc1.corp.example:3268" }));
    assert.strictEqual(ldapSettings().startTls, true, "StartTLS protects a plain gcUrl beside an ldaps:// DC");
    refusedOn({ gcUrl: "ldap://dc1.corp.example:3268", ldapStartTls: "false" }, "gcUrl", /clear text/);
    refusedOn({ ldapUrl: "ldap://dc1.corp.example", ldapStartTls: "false" }, "ldapUrl", /clear text.*ldapAllowPlainText/);
    configureFromStack(configFromMap({ ...base, ldapUrl: "ldap://dc1.corp.example", ldapStartTls: "false", ldapAllowPlainText: "true" }));
    assert.doesNotThrow(() => ldapSettings());
  });
});
