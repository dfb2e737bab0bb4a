// The lifecycle rules that need no service (provider/resources/lifecycle.ts and its neighbours):
// what destroy releases and what it deletes, the second check of a replacement, server names
// written two ways, the URN a fix quotes, and findings that never carry a server's page.
import * as assert from "node:assert/strict";
import { readOnServer } from "../../provider/exchange/operations";
import { sameServer, serverKey } from "../../provider/exchange/inputs";
import { UnreachableError } from "../../provider/errors";
import { noteLegacyOrigin, recordedInputs, releasedOnDestroy, rememberRecorded, onDestroyInput } from "../../provider/resources/lifecycle";
import { serverChildNames } from "../../provider/components/kerberos-rollout";
import { judgeProxyAnswer } from "../../provider/doctor/kdc-proxy";
import { oneLine, serverText, Report } from "../../provider/doctor/report";
import { stackFlag } from "../../provider/current-config";
import { originalsNaming } from "../../provider/resources/exchange-virtual-directory-urls";

describe("lifecycle: what destroy does with each object", () => {
  it("deletes what the stack created, releases what it adopted, deletes that too with onDestroy delete", () => {
    assert.equal(releasedOnDestroy({ origin: "created" }), false);
    assert.equal(releasedOnDestroy({ origin: "adopted" }), true);
    assert.equal(releasedOnDestroy({ origin: "adopted", onDestroy: "release" }), true);
    assert.equal(releasedOnDestroy({ origin: "adopted", onDestroy: "delete" }), false);
    assert.equal(releasedOnDestroy({ origin: "created", onDestroy: "release" }), false, "release never keeps what the stack made");
  });

  it("keeps the earlier behaviour for state that recorded no origin, unless release is asked for", () => {
    assert.equal(releasedOnDestroy({}), false);
    assert.equal(releasedOnDestroy({ onDestroy: "release" }), true);
    assert.equal(releasedOnDestroy({ onDestroy: "delete" }), false);
  });

  it("says once, at the first diff of state that recorded no origin, that destroy deletes as before and names the key", () => {
    const said: string[] = [];
    const warn = console.warn;
    console.warn = (...v: unknown[]) => void said.push(v.join(" "));
    try {
      noteLegacyOrigin({ origin: "created" });
      assert.deepEqual(said, [], "state that recorded its origin: nothing to say");
      noteLegacyOrigin({});
      noteLegacyOrigin({});
    } finally {
      console.warn = warn;
    }
    assert.equal(said.length, 1, said.join("\n"));
    assert.match(said[0], /^warning: this stack was deployed by an earlier release.*pulumi destroy deletes every object it manages.*Fix: .*pulumi config set exchange-kerberos:onDestroy release/);
  });

  it("takes release or delete, and refuses anything else naming the field", () => {
    assert.equal(onDestroyInput("onDestroy", undefined), undefined);
    assert.equal(onDestroyInput("onDestroy", "delete"), "delete");
    assert.throws(() => onDestroyInput("exchange-kerberos:onDestroy", "keep"), /exchange-kerberos:onDestroy.*"keep" is not release or delete/);
  });

  it("hands the engine's second check of a replacement the inputs its first check saw", () => {
    const urn = "urn:pulumi:s::p::exchange-kerberos:index:KerberosRollout$pulumi-nodejs:dynamic/exchange-kerberos:Spn::site-spn-x";
    assert.deepEqual(recordedInputs({ resourceUrn: urn }, {}), {}, "a new resource: nothing recorded");
    rememberRecorded({ resourceUrn: urn }, { accountSid: "S-1-5-21-1-2-3-1104" });
    assert.deepEqual(recordedInputs({ resourceUrn: urn }, {}), { accountSid: "S-1-5-21-1-2-3-1104" });
    assert.deepEqual(recordedInputs({ resourceUrn: urn }, { accountSid: "S-1-5-21-1-2-3-9" }), { accountSid: "S-1-5-21-1-2-3-9" }, "the engine's own olds win");
  });

  it("names the URLs destroy would put back on a namespace", () => {
    assert.deepEqual(originalsNaming({ "owa.internalUrl": "https://Outlook.corp.example/owa", "ews.internalUrl": "https://ex1.corp.example/EWS/Exchange.asmx", "outlookAnywhere.internalHostname": "outlook.corp.example" }, "outlook.corp.example"), ["owa.internalUrl", "outlookAnywhere.internalHostname"]);
  });
});

describe("lifecycle: a server written two ways is one server", () => {
  it("compares and names servers by their first label", () => {
    assert.equal(serverKey("EX1"), "ex1");
    assert.equal(serverKey("ex1.corp.example"), "ex1");
    assert.ok(sameServer("EX1", "ex1.corp.example"));
    assert.ok(!sameServer("EX1", "ex10.corp.example"));
  });

  it("gives a server's resources the same name either way, keeping an FQDN-named stack's URNs as aliases", () => {
    const [byName] = serverChildNames("site-bind-", ["EX1"]);
    const [byFqdn] = serverChildNames("site-bind-", ["ex1.corp.example"]);
    assert.equal(byName.name, "site-bind-ex1");
    assert.equal(byFqdn.name, "site-bind-ex1");
    assert.deepEqual(byFqdn.aliases.map((a) => a.name), ["site-bind-ex1.corp.example", "site-bind-ex1-corp-example"]);
    assert.deepEqual(byName.aliases, []);
  });
});

describe("lifecycle: messages that say what is true", () => {
  it("quotes the resource's own URN in the state-delete fix of an unreachable server", async () => {
    const urn = "urn:pulumi:berlin::exchange-kerberos::exchange-kerberos:index:KerberosRollout$pulumi-nodejs:dynamic/exchange-kerberos:AsaBinding::site-bind-ex2";
    await assert.rejects(
      readOnServer({ server: "EX2", resourceUrn: urn }, async () => {
        throw new UnreachableError("EX2 did not answer", "check that it is up");
      }),
      (e: UnreachableError) => {
        assert.ok(e.fix?.includes(`pulumi state delete '${urn}'`), e.fix);
        assert.ok(!e.fix?.includes("<"), "no placeholder");
        return true;
      },
    );
  });

  it("reads the stack a pulumi command line names", () => {
    assert.equal(stackFlag(["pulumi", "destroy", "-s", "otherorg/berlin", "--yes"]), "otherorg/berlin");
    assert.equal(stackFlag(["pulumi", "refresh", "--stack=hamburg"]), "hamburg");
    assert.equal(stackFlag(["pulumi", "refresh", "--stack", "org/proj/x"]), "org/proj/x");
    assert.equal(stackFlag(["pulumi", "up", "--yes"]), null);
  });

  it("names a KDC proxy path that answers 403 or 404 as the wrong path, in one line without the server's HTML", () => {
    const page = "<!DOCTYPE HTML PUBLIC \"-//IETF//DTD HTML 2.0//EN\">\n<html><head>\n<title>403 Forbidden</title>\n</head><body>\n<h1>Forbidden</h1>\n<p>You don't have permission to access this resource.</p>\n</body></html>\n";
    for (const status of [403, 404]) {
      const o = judgeProxyAnswer("https://kdcproxy.corp.example/kdcproxy", "CORP.EXAMPLE", { status, type: "text/html", body: Buffer.from(page) });
      assert.equal(o.ok, false);
      if (o.ok) continue;
      assert.equal(o.code, "KDC_PROXY_NOT_FOUND");
      assert.match(o.cause, /no KDC proxy is published at the path \/kdcproxy/);
      assert.match(o.fix, /\/KdcProxy/);
      assert.doesNotMatch(o.cause, /[<>\n]/, o.cause);
      assert.ok(o.cause.length < 400, o.cause);
    }
  });

  it("keeps a server's text to one line of at most 200 characters, markup removed", () => {
    assert.equal(serverText("<p>a &amp; b</p>\n<p>c&#39;d</p>"), "a & b c'd");
    assert.equal(serverText("x".repeat(500)).length, 200);
    assert.equal(oneLine("a\r\nb\tc"), "a b c");
    const r = new Report();
    const f = r.add("kdcProxy", "x", "fail", "KDC_PROXY_ERROR", "line one\nline two", "fix\nit");
    assert.equal(f.cause, "line one line two");
    assert.equal(f.fix, "fix it");
  });
});
