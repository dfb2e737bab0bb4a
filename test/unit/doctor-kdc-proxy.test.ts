// The doctor's KDC proxy setting (Outlook outside the network): the URL, the flags and the stack
// config keys, and how the proxy's answers are judged.
import assert from "node:assert/strict";
import { parseDoctorArgs } from "../../provider/cli";
import { doctorOptionsFromConfig } from "../../provider/doctor";
import { judgeProxyAnswer, parseKdcProxyUrl } from "../../provider/doctor/kdc-proxy";
import { der } from "../../provider/kerberos/der";
import { encodeKdcProxyMessage } from "../../provider/kerberos/kkdcp";

describe("doctor: the KDC proxy setting", () => {
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

describe("doctor: judging the KDC proxy's answer to the probe", () => {
  const W = "https://kdcproxy.corp.example/KdcProxy";
  const answer = (status: number, body: Buffer | string, type = "text/plain") => ({ status, type, body: Buffer.isBuffer(body) ? body : Buffer.from(body) });
  const krbError = (code: number, realm = "CORP.EXAMPLE") =>
    encodeKdcProxyMessage(der.application(30, der.sequence(der.context(0, der.integer(5)), der.context(1, der.integer(30)), der.context(6, der.integer(code)), der.context(9, der.generalString(realm)))), "CORP.EXAMPLE");
  const code = (o: ReturnType<typeof judgeProxyAnswer>) => (o.ok ? "OK" : o.code);

  it("passes on a KDC's answer relayed in a KDC-PROXY-MESSAGE (PREAUTH_REQUIRED or an AS-REP)", () => {
    const o = judgeProxyAnswer(W, "CORP.EXAMPLE", answer(200, krbError(25), "application/kerberos"), "IP Address:10.0.0.5");
    assert.ok(o.ok && /relays MS-KKDCP to a KDC of CORP\.EXAMPLE \(it answered KDC_ERR_PREAUTH_REQUIRED\)/.test(o.detail), JSON.stringify(o));
    const asRep = encodeKdcProxyMessage(der.application(11, der.sequence(der.context(0, der.integer(5)))), "CORP.EXAMPLE");
    assert.equal(code(judgeProxyAnswer(W, "CORP.EXAMPLE", answer(200, asRep))), "OK");
  });

  it("tells kdcproxy's refused realm from its unreachable KDC; any other 503 is a KDC out of reach", () => {
    assert.equal(code(judgeProxyAnswer(W, "CORP.EXAMPLE", answer(503, "Can't find remote (CORP.EXAMPLE AS-REQ (180 bytes)).\n"))), "KDC_PROXY_REALM_REFUSED");
    assert.equal(code(judgeProxyAnswer(W, "CORP.EXAMPLE", answer(503, "Remote unavailable (CORP.EXAMPLE AS-REQ (180 bytes)).\n"))), "KDC_PROXY_KDC_UNREACHABLE");
    assert.equal(code(judgeProxyAnswer(W, "CORP.EXAMPLE", answer(503, ""))), "KDC_PROXY_KDC_UNREACHABLE");
  });

  it("names a wrong path, another HTTP error, a 200 that is no KDC answer, and a KDC of another realm", () => {
    const notFound = judgeProxyAnswer(W, "CORP.EXAMPLE", answer(404, "Not Found"));
    assert.equal(code(notFound), "KDC_PROXY_NOT_FOUND");
    assert.match(notFound.ok ? "" : notFound.fix, /https:\/\/<name>\/KdcProxy/);
    assert.equal(code(judgeProxyAnswer(W, "CORP.EXAMPLE", answer(500, "boom"))), "KDC_PROXY_ERROR");
    const html = judgeProxyAnswer(W, "CORP.EXAMPLE", answer(200, "<html>welcome</html>", "text/html"));
    assert.equal(code(html), "KDC_PROXY_ERROR");
    assert.match(html.ok ? "" : html.cause, /HTTP 200 \(text\/html\) with no KDC answer in it/);
    assert.equal(code(judgeProxyAnswer(W, "CORP.EXAMPLE", answer(200, krbError(68, "OTHER.EXAMPLE")))), "KDC_PROXY_REALM_REFUSED");
  });
});
