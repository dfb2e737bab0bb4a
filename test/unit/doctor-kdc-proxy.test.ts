// The doctor's KDC proxy setting (Outlook outside the network): the krb5.conf that sends MIT's
// tools through the proxy only, the URL, the flags and the stack config keys.
import assert from "node:assert/strict";
import { parseDoctorArgs } from "../../provider/cli";
import { doctorOptionsFromConfig } from "../../provider/doctor";
import { parseKdcProxyUrl } from "../../provider/doctor/kdc-proxy";
import { kdcProxyKrb5Conf } from "../../provider/kerberos/tickets";

describe("doctor: the KDC proxy setting", () => {
  it("writes a krb5.conf whose realm has the proxy as its only KDC, with the CA as http_anchors, and no DNS lookups", () => {
    const conf = kdcProxyKrb5Conf("corp.example", { url: "https://kdcproxy.corp.example/KdcProxy", caFile: "/etc/ca.pem" });
    assert.match(conf, /\[realms\]\n\tCORP\.EXAMPLE = \{\n\t\tkdc = https:\/\/kdcproxy\.corp\.example\/KdcProxy\n\t\thttp_anchors = FILE:\/etc\/ca\.pem\n\t\}/);
    assert.equal(conf.match(/^\t\tkdc = /gm)?.length, 1);
    assert.match(conf, /dns_lookup_kdc = false/);
    assert.doesNotMatch(kdcProxyKrb5Conf("CORP.EXAMPLE", { url: "https://p/KdcProxy" }), /http_anchors/);
  });

  it("refuses a URL or CA path that could add relations to the krb5.conf", () => {
    assert.throws(() => kdcProxyKrb5Conf("CORP.EXAMPLE", { url: "https://p/KdcProxy\n\t\tkdc = evil" }), /kdcProxyUrl.*cannot be written into a krb5.conf/s);
    assert.throws(() => kdcProxyKrb5Conf("CORP.EXAMPLE", { url: "https://p/KdcProxy", caFile: "/a b}" }), /kdcProxyCaFile/);
    assert.throws(() => kdcProxyKrb5Conf("CORP EXAMPLE", { url: "https://p/KdcProxy" }), /not a realm name/);
  });

  it("accepts only https URLs without user, query or fragment", () => {
    assert.ok(!("invalid" in parseKdcProxyUrl("https://kdcproxy.corp.example/KdcProxy")));
    assert.match((parseKdcProxyUrl("http://kdcproxy/KdcProxy") as { invalid: string }).invalid, /not an https:\/\/ URL/);
    assert.match((parseKdcProxyUrl("kdcproxy") as { invalid: string }).invalid, /not a URL/);
    assert.match((parseKdcProxyUrl("https://u:p@kdcproxy/KdcProxy") as { invalid: string }).invalid, /user, query or fragment/);
  });

  it("--kdc-proxy sets kdcProxyUrl; --kdc-proxy-ca-file and --kdc-proxy-timeout-ms their keys", () => {
    const p = parseDoctorArgs(["--kdc-proxy", "https://p/KdcProxy", "--kdc-proxy-ca-file", "ca.pem", "--kdc-proxy-timeout-ms", "5000"]);
    assert.deepEqual(p.config, { kdcProxyUrl: "https://p/KdcProxy", kdcProxyCaFile: "ca.pem", kdcProxyTimeoutMs: "5000" });
  });
});

describe("doctor: the KDC proxy keys in a stack's config", () => {
  const base: Record<string, string> = {
    "exchange-kerberos:namespace": "outlook.corp.example",
    "exchange-kerberos:asaName": "EXCH-ASA",
    "exchange-kerberos:ldapUrl": "ldaps://dc1.corp.example",
    "exchange-kerberos:ldapBindUser": "svc@corp.example",
    "exchange-kerberos:ldapBindPassword": "not-used-here",
  };

  it("reads kdcProxyUrl, kdcProxyCaFile and kdcProxyTimeoutMs; without kdcProxyUrl there is no proxy", () => {
    const o = doctorOptionsFromConfig({ ...base, "exchange-kerberos:kdcProxyUrl": "https://kdcproxy.corp.example/KdcProxy", "exchange-kerberos:kdcProxyCaFile": "/etc/ca.pem", "exchange-kerberos:kdcProxyTimeoutMs": "5000" });
    assert.deepEqual(o.kdcProxy, { url: "https://kdcproxy.corp.example/KdcProxy", caFile: "/etc/ca.pem", timeoutMs: 5000 });
    assert.equal(doctorOptionsFromConfig(base).kdcProxy, undefined);
  });

  it("refuses a URL that is not https, and a timeout that is not a whole number, naming the key", () => {
    assert.throws(() => doctorOptionsFromConfig({ ...base, "exchange-kerberos:kdcProxyUrl": "http://kdcproxy/KdcProxy" }), /exchange-kerberos:kdcProxyUrl: .*not an https:\/\/ URL/);
    assert.throws(() => doctorOptionsFromConfig({ ...base, "exchange-kerberos:kdcProxyUrl": "https://p/KdcProxy", "exchange-kerberos:kdcProxyTimeoutMs": "5s" }), /exchange-kerberos:kdcProxyTimeoutMs: "5s" is not a whole number/);
  });
});
