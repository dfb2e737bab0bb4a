// Who asks the KDC for the doctor's tickets and which KDC it asks (provider/doctor/ticket-source.ts):
// the doctor's user is a principal (a DN bind user is refused, naming kerberosUser), and tickets
// come from the DC of ldapUrl unless kerberosKdc, krb5Config or kdcProxyUrl names another.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { doctorOptionsFromConfig } from "../../provider/doctor";
import { clockFindings } from "../../provider/doctor/clock";
import { Report } from "../../provider/doctor/report";
import { doctorKdcRoute, doctorPrincipal } from "../../provider/doctor/ticket-source";
import { krb5ConfKdcs, parseKdcSpec } from "../../provider/kerberos/kdc-location";
import { adUserPrincipal, NAME_TYPE } from "../../provider/kerberos/principal";

const base: Record<string, string> = {
  "exchange-kerberos:namespace": "outlook.corp.example",
  "exchange-kerberos:asaName": "EXCH-ASA",
  "exchange-kerberos:ldapUrl": "ldaps://dc2.corp.example",
  "exchange-kerberos:ldapBindUser": "svc-kerberos@corp.example",
  "exchange-kerberos:ldapBindPassword": "not-used-here",
};

describe("doctor: the Kerberos user is a principal", () => {
  it("maps user@<realm's domain> and DOMAIN\\user to user@REALM, another UPN suffix to an enterprise name, a bare name into the realm", () => {
    assert.deepEqual(adUserPrincipal("svc@corp.example", "corp.example"), { nameType: NAME_TYPE.PRINCIPAL, components: ["svc"], realm: "CORP.EXAMPLE" });
    assert.deepEqual(adUserPrincipal("CORP\\svc", "CORP.EXAMPLE", "CORP"), { nameType: NAME_TYPE.PRINCIPAL, components: ["svc"], realm: "CORP.EXAMPLE" });
    assert.deepEqual(adUserPrincipal("corp.example\\svc", "CORP.EXAMPLE", "CORPNB"), { nameType: NAME_TYPE.PRINCIPAL, components: ["svc"], realm: "CORP.EXAMPLE" });
    assert.deepEqual(adUserPrincipal("svc@mail.example", "CORP.EXAMPLE"), { nameType: NAME_TYPE.ENTERPRISE, components: ["svc@mail.example"], realm: "CORP.EXAMPLE" });
    assert.deepEqual(adUserPrincipal("svc", "CORP.EXAMPLE"), { nameType: NAME_TYPE.PRINCIPAL, components: ["svc"], realm: "CORP.EXAMPLE" });
  });

  it("refuses a DN, another domain's DOMAIN\\ and what is no user name", () => {
    assert.throws(() => adUserPrincipal("CN=svc,OU=Service Accounts,DC=corp,DC=example", "CORP.EXAMPLE"), /is a distinguished name, not a Kerberos principal/);
    assert.throws(() => adUserPrincipal("OTHER\\svc", "CORP.EXAMPLE", "CORP"), /names the domain OTHER, not CORP/);
    for (const bad of ["HTTP/host", "-E", "a@b@c"]) assert.throws(() => adUserPrincipal(bad, "CORP.EXAMPLE"), /not a user name/, bad);
  });

  it("a DN bind user with no kerberosUser is refused naming kerberosUser, and so is a DN given as kerberosUser", () => {
    const dn = doctorOptionsFromConfig({ ...base, "exchange-kerberos:ldapBindUser": "CN=svc,OU=Service Accounts,DC=corp,DC=example" });
    assert.throws(
      () => doctorPrincipal(dn, "CORP.EXAMPLE", "CORP"),
      (e: Error & { code?: string }) =>
        e.code === "INVALID_USER_NAME" &&
        /^exchange-kerberos:kerberosUser: is not set, and the LDAP bind user it defaults to, "CN=svc,.*" is a distinguished name, not a Kerberos principal\. Fix: set exchange-kerberos:kerberosUser to user@corp\.example or CORP\\user/.test(e.message),
    );
    const given = doctorOptionsFromConfig({ ...base, "exchange-kerberos:kerberosUser": "CN=doctor,DC=corp,DC=example" });
    assert.throws(() => doctorPrincipal(given, "CORP.EXAMPLE"), /exchange-kerberos:kerberosUser: "CN=doctor,DC=corp,DC=example" is a distinguished name/);
    assert.deepEqual(doctorPrincipal(doctorOptionsFromConfig(base), "CORP.EXAMPLE").components, ["svc-kerberos"]);
  });
});

describe("doctor: which KDC the tickets come from", () => {
  let dir: string;
  before(() => (dir = mkdtempSync(join(tmpdir(), "ticket-source-"))));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it("by default the DC of ldapUrl, on TCP 88, and says so", async () => {
    const route = await doctorKdcRoute(doctorOptionsFromConfig(base), "CORP.EXAMPLE");
    assert.deepEqual(route.kind === "kdcs" && route.kdcs, [{ transport: "tcp", host: "dc2.corp.example", port: 88 }]);
    assert.match(route.kind === "kdcs" ? route.chosenBy : "", /the DC of exchange-kerberos:ldapUrl, which the stack writes to/);
  });

  it("kerberosKdc names the KDCs (a list, each host[:port], tcp/ or udp/); a KDC proxy alone", async () => {
    const route = await doctorKdcRoute(doctorOptionsFromConfig({ ...base, "exchange-kerberos:kerberosKdc": "dc1.corp.example, udp/10.0.0.5:750,[fd00::5]" }), "CORP.EXAMPLE");
    assert.deepEqual(route.kind === "kdcs" && route.kdcs, [
      { transport: "tcp", host: "dc1.corp.example", port: 88 },
      { transport: "udp", host: "10.0.0.5", port: 750 },
      { transport: "tcp", host: "fd00::5", port: 88 },
    ]);
    const proxy = await doctorKdcRoute(doctorOptionsFromConfig({ ...base, "exchange-kerberos:kerberosKdc": '["https://kdcproxy.corp.example/KdcProxy"]' }), "CORP.EXAMPLE");
    assert.deepEqual(proxy, { kind: "proxy", url: "https://kdcproxy.corp.example/KdcProxy" });
    await assert.rejects(doctorKdcRoute(doctorOptionsFromConfig({ ...base, "exchange-kerberos:kerberosKdc": "dc1 dc2" }), "CORP.EXAMPLE"), /exchange-kerberos:kerberosKdc: "dc1 dc2" is not a KDC name/);
    await assert.rejects(doctorKdcRoute(doctorOptionsFromConfig({ ...base, "exchange-kerberos:kerberosKdc": "dc1,https://p/KdcProxy" }), "CORP.EXAMPLE"), /names a KDC proxy beside other KDCs/);
  });

  it("krb5Config: the kdc lines of the realm's own block only", async () => {
    const conf = join(dir, "krb5.conf");
    writeFileSync(
      conf,
      [
        "[libdefaults]",
        "\tdefault_realm = CORP.EXAMPLE",
        "\tkdc = not.this.one",
        "[realms]",
        "\tOTHER.EXAMPLE = {",
        "\t\tkdc = other.example",
        "\t}",
        "\tCORP.EXAMPLE = {",
        "\t\t# kdc = commented.out",
        "\t\tkdc = 127.0.0.2",
        "\t\tkdc = tcp/dc3.corp.example:8888",
        "\t\tauth_to_local = {",
        "\t\t\tkdc = nested.not.a.kdc",
        "\t\t}",
        "\t}",
        "[domain_realm]",
        "\t.corp.example = CORP.EXAMPLE",
        "",
      ].join("\n"),
    );
    const route = await doctorKdcRoute(doctorOptionsFromConfig({ ...base, "exchange-kerberos:krb5Config": conf }), "CORP.EXAMPLE");
    assert.deepEqual(route.kind === "kdcs" && route.kdcs, [
      { transport: "tcp", host: "127.0.0.2", port: 88 },
      { transport: "tcp", host: "dc3.corp.example", port: 8888 },
    ]);
    assert.deepEqual(krb5ConfKdcs("[realms]\n CORP.EXAMPLE = {\n  kdc = https://p.corp.example/KdcProxy\n  http_anchors = FILE:/etc/ca.pem\n }\n", "CORP.EXAMPLE"), { kdcs: ["https://p.corp.example/KdcProxy"], httpAnchor: "/etc/ca.pem" });
    assert.deepEqual(krb5ConfKdcs("[realms]\n corp.example = {\n  kdc = x\n }\n", "CORP.EXAMPLE").kdcs, [], "realm names compare exactly, as MIT's do");
    await assert.rejects(doctorKdcRoute(doctorOptionsFromConfig({ ...base, "exchange-kerberos:krb5Config": join(dir, "missing.conf") }), "CORP.EXAMPLE"), (e: Error & { code?: string }) => e.code === "KRB5_CONFIG_UNREADABLE" && /^exchange-kerberos:krb5Config: .*missing\.conf cannot be read/.test(e.message));
  });

  it("kdcProxyUrl wins over everything: tickets only through the proxy, with its CA and timeout", async () => {
    const o = doctorOptionsFromConfig({ ...base, "exchange-kerberos:kerberosKdc": "dc1", "exchange-kerberos:kdcProxyUrl": "https://kdcproxy.corp.example/KdcProxy", "exchange-kerberos:kdcProxyCaFile": "/etc/ca.pem", "exchange-kerberos:kdcProxyTimeoutMs": "5000" });
    assert.deepEqual(await doctorKdcRoute(o, "CORP.EXAMPLE"), { kind: "proxy", url: "https://kdcproxy.corp.example/KdcProxy", caFile: "/etc/ca.pem", timeoutMs: 5000 });
  });

  it("KRB5_CONFIG in the environment is MIT's, and is not read", async () => {
    const before = process.env.KRB5_CONFIG;
    process.env.KRB5_CONFIG = join(dir, "krb5.conf");
    try {
      const o = doctorOptionsFromConfig(base);
      assert.equal(o.kerberos.krb5Config, undefined);
      assert.deepEqual((await doctorKdcRoute(o, "CORP.EXAMPLE")).kind === "kdcs", true);
    } finally {
      if (before === undefined) delete process.env.KRB5_CONFIG;
      else process.env.KRB5_CONFIG = before;
    }
  });

  it("a KDC name is host, host:port, [v6]:port, tcp/ or udp/, or an https URL", () => {
    assert.deepEqual(parseKdcSpec("[fd00::1]:750", "f"), { kind: "kdc", kdc: { transport: "tcp", host: "fd00::1", port: 750 } });
    assert.deepEqual(parseKdcSpec("UDP/dc1", "f"), { kind: "kdc", kdc: { transport: "udp", host: "dc1", port: 88 } });
    for (const bad of ["", "dc1:0", "dc1:99999", "ftp://x", "dc1/x", "a b"]) assert.throws(() => parseKdcSpec(bad, "f"), /: f: "/, bad);
  });
});

describe("doctor: how the TGT was had, as warnings", () => {
  const logon = { client: "svc@CORP.EXAMPLE", kdc: "127.0.0.2:88 (TCP)", replyKeyEtype: 18 };
  const findings = (over: Partial<typeof logon & { clockOffsetMs: number }>): string[] => {
    const r = new Report();
    clockFindings({ ...logon, clockOffsetMs: 0, ...over }, r);
    return r.findings.map((f) => `${f.status}:${f.code}:${f.cause}`);
  };

  it("says nothing under a minute's offset and of an AES logon", () => {
    assert.deepEqual(findings({ clockOffsetMs: 59_000 }), []);
    assert.deepEqual(findings({ clockOffsetMs: -59_000 }), []);
  });

  it("warns CLOCK_OFFSET with the measured seconds and which way, beyond Kerberos' 5 minutes saying clients are refused", () => {
    const [ahead] = findings({ clockOffsetMs: -1_200_000 });
    assert.match(ahead, /^warn:CLOCK_OFFSET:this machine's clock is 1200 s ahead of the KDC's \(127\.0\.0\.2:88 \(TCP\), measured from its answers\).*no finding here is caused by it, but Windows clients and servers on this clock are refused/);
    const [behind] = findings({ clockOffsetMs: 90_000 });
    assert.match(behind, /clock is 90 s behind the KDC's.*; Kerberos allows 5 minutes$/);
  });

  it("warns KERBEROS_LOGON_RC4 when the KDC offered only RC4 for the user's own key", () => {
    assert.deepEqual(findings({ replyKeyEtype: 23 }).map((f) => f.split(":").slice(0, 2).join(":")), ["warn:KERBEROS_LOGON_RC4"]);
  });
});
