// The Exchange resources' offline logic: defaults from the namespace, comparison of declared and
// found settings (Exchange's URL normalisation, unordered method sets), the MAPI merge, diffs.
import * as assert from "node:assert/strict";
import { sameSetting } from "../../../provider/exchange/inputs";
import { declaredSettings, validateVdirUrlsInputs, vdirUrlsDiff } from "../../../provider/resources/exchange-virtual-directory-urls";
import { declaredOutlookAuth, validateOutlookAuthInputs, withNegotiate } from "../../../provider/resources/outlook-anywhere-auth";
import { asaBindingDiff, asaDrift, validateAsaBindingInputs } from "../../../provider/resources/asa-binding";

describe("Exchange resources, offline", () => {
  it("derives every URL from the namespace, overrides win, external URLs only when declared", () => {
    const s = declaredSettings(validateVdirUrlsInputs({ server: "EX1", namespace: "outlook.corp.example", externalUrls: { owa: "https://mail.example.com/owa" } }));
    assert.equal(s["ews.internalUrl"], "https://outlook.corp.example/EWS/Exchange.asmx");
    assert.equal(s["activeSync.internalUrl"], "https://outlook.corp.example/Microsoft-Server-ActiveSync");
    assert.equal(s.autodiscoverInternalUri, "https://outlook.corp.example/Autodiscover/Autodiscover.xml");
    assert.equal(s["outlookAnywhere.internalHostname"], "outlook.corp.example");
    assert.equal(s["owa.externalUrl"], "https://mail.example.com/owa");
    assert.ok(!("ecp.externalUrl" in s));
  });

  it("compares URLs as Exchange returns them (System.Uri) and method lists as sets", () => {
    assert.ok(sameSetting("owa.internalUrl", "https://Outlook.Corp.Example/owa", "https://outlook.corp.example/owa"));
    assert.ok(!sameSetting("owa.internalUrl", "https://outlook.corp.example/owa", "https://outlook.corp.example/OWA"));
    assert.ok(sameSetting("mapi.iisAuthenticationMethods", ["Ntlm", "OAuth", "Negotiate"], ["negotiate", "ntlm", "oauth"]));
    assert.ok(!sameSetting("mapi.iisAuthenticationMethods", ["Ntlm", "Negotiate"], ["Ntlm", "OAuth", "Negotiate"]));
  });

  it("adds Negotiate to what MAPI has and never removes OAuth, unless the full list is declared", () => {
    assert.deepEqual(withNegotiate(["Ntlm", "OAuth"]), ["Ntlm", "OAuth", "Negotiate"]);
    assert.deepEqual(withNegotiate(["Ntlm", "Negotiate"]), ["Ntlm", "Negotiate"]);
    const found = { "mapi.iisAuthenticationMethods": ["Ntlm", "OAuth"], "outlookAnywhere.iisAuthenticationMethods": ["Basic", "Ntlm"] };
    const merged = declaredOutlookAuth(validateOutlookAuthInputs({ server: "EX1" }), found);
    assert.deepEqual(merged["mapi.iisAuthenticationMethods"], ["Ntlm", "OAuth", "Negotiate"]);
    assert.deepEqual(merged["outlookAnywhere.iisAuthenticationMethods"], ["Basic", "Ntlm", "Negotiate"]);
    const full = declaredOutlookAuth(validateOutlookAuthInputs({ server: "EX1", mapiIisAuthenticationMethods: ["ntlm", "NEGOTIATE"] }), found);
    assert.deepEqual(full["mapi.iisAuthenticationMethods"], ["Ntlm", "Negotiate"]);
  });

  it("replaces on a new server, updates on a new URL, sees no change when the server matches", () => {
    const news = validateVdirUrlsInputs({ server: "EX1", namespace: "outlook.corp.example" });
    const settings = declaredSettings(news);
    assert.deepEqual(vdirUrlsDiff({ server: "ex1", settings }, news), { changes: false, replaces: [], deleteBeforeReplace: false });
    assert.deepEqual(vdirUrlsDiff({ server: "EX2", settings }, news).replaces, ["server"]);
    assert.equal(vdirUrlsDiff({ server: "EX1", settings: { ...settings, "owa.internalUrl": "https://x.corp.example/owa" } }, news).changes, true);
  });

  it("AsaBinding: a new password or a credential replaced by hand is an update; the server is a replace", () => {
    const news = validateAsaBindingInputs({ server: "EX1", account: "CORP\\EXCH-ASA$", password: "p1" });
    const olds = { ...news, drift: [] as string[] };
    assert.equal(asaBindingDiff(olds, news).changes, false);
    assert.equal(asaBindingDiff(olds, { ...news, password: "p2" }).changes, true);
    assert.deepEqual(asaBindingDiff({ ...olds, server: "EX2" }, news).replaces, ["server"]);
    const t = "2026-01-01T00:00:00.000Z";
    assert.deepEqual(asaDrift({ server: "EX1", account: "CORP\\EXCH-ASA$", boundAt: t }, [{ account: "CORP\\EXCH-ASA$", whenAddedUtc: t }]), []);
    assert.match(asaDrift({ server: "EX1", account: "CORP\\EXCH-ASA$", boundAt: t }, [{ account: "CORP\\OTHER$", whenAddedUtc: t }]).join(), /now uses CORP\\OTHER\$/);
    assert.match(asaDrift({ server: "EX1", account: "CORP\\EXCH-ASA$", boundAt: t }, []).join(), /no ASA credential/);
  });
});
