// The three Exchange resources through their whole life against the Exchange stand-in (a TEST
// DOUBLE, not Exchange), on a 2013 server (Set-ClientAccessServer) and a 2016 server
// (Set-ClientAccessService): create → read (no drift) → change by hand → read (drift) → update →
// delete (what was found before create is back). The impls are called as Pulumi's engine calls
// them: check first, then create/read/diff/update/delete with check's inputs.
import * as assert from "node:assert/strict";
import { asaBindingImpl } from "../../../provider/resources/asa-binding";
import { exchangeVirtualDirectoryUrlsImpl } from "../../../provider/resources/exchange-virtual-directory-urls";
import { outlookAnywhereAuthImpl } from "../../../provider/resources/outlook-anywhere-auth";
import type { ResourceImpl } from "../../../provider/resources/dynamic";
import { AlreadyExistsError, NotFoundError, UnreachableError } from "../../../provider/errors";
import { editServer, getServer, readTranscript } from "../../fixtures/exchange-standin/state";
import { startStandin, type Harness } from "./standin-harness";
import * as fs from "node:fs";
import { modulePath } from "../../../provider/exchange/channel";
import { analyzeModule, callSignature, reachableCalls } from "../../unit/exchange/powershell-static";

async function checked(impl: ResourceImpl, news: Record<string, unknown>, olds: Record<string, unknown> = {}): Promise<Record<string, unknown>> {
  const r = await impl.check(olds, news);
  assert.deepEqual(r.failures ?? [], [], "check accepts the inputs");
  return r.inputs as Record<string, unknown>;
}

const VERSIONS = [
  { server: "EX13", version: "2013" as const, noun: "ClientAccessServer" },
  { server: "EX16", version: "2016" as const, noun: "ClientAccessService" },
];

for (const v of VERSIONS) {
  describe(`Exchange resources on an Exchange ${v.version} server (stand-in)`, function () {
    this.timeout(60000);
    let h: Harness;
    before(async () => {
      h = await startStandin([{ name: v.server, version: v.version, mapiIisAuthenticationMethods: v.version === "2013" ? ["Ntlm"] : ["Ntlm", "OAuth"] }]);
    });
    after(async () => h.done());

    it("ExchangeVirtualDirectoryUrls: points every URL at the namespace, reports hand edits, corrects them, restores what it found", async () => {
      const impl = exchangeVirtualDirectoryUrlsImpl;
      const before = getServer(h.stateFile, v.server);
      const inputs = await checked(impl, { server: v.server, namespace: "outlook.corp.example", internalUrls: { ecp: "https://admin.corp.example/ecp" } });
      const created = await impl.create(inputs);
      let s = getServer(h.stateFile, v.server);
      assert.equal(s.vdirs.owa.internalUrl, "https://outlook.corp.example/owa");
      assert.equal(s.vdirs.ews.internalUrl, "https://outlook.corp.example/EWS/Exchange.asmx");
      assert.equal(s.vdirs.ecp.internalUrl, "https://admin.corp.example/ecp", "a per-service override wins over the namespace");
      assert.equal(s.vdirs.mapi.internalUrl, "https://outlook.corp.example/mapi");
      assert.equal(s.autoDiscoverServiceInternalUri, "https://outlook.corp.example/Autodiscover/Autodiscover.xml");
      assert.equal(s.rpc.internalHostname, "outlook.corp.example");
      assert.equal(s.rpc.internalClientsRequireSsl, true);
      assert.equal(s.vdirs.owa.externalUrl, null, "external URLs are left alone unless declared");

      const read1 = await impl.read(created.id, created.outs);
      assert.deepEqual(read1.props.drift, []);
      assert.equal((await impl.diff(created.id, read1.props, inputs)).changes, false);

      editServer(h.stateFile, v.server, (x) => {
        x.vdirs.owa.internalUrl = "https://ex-by-hand.corp.example/owa";
        x.rpc.internalClientsRequireSsl = false;
      });
      const read2 = await impl.read(created.id, read1.props);
      assert.equal(read2.props.drift.length, 2);
      assert.match(read2.props.drift.join("\n"), /owa\.internalUrl: declared https:\/\/outlook\.corp\.example\/owa, found https:\/\/ex-by-hand/);
      assert.match(read2.props.drift.join("\n"), /outlookAnywhere\.internalClientsRequireSsl: declared true, found false/);
      assert.equal((await impl.diff(created.id, read2.props, inputs)).changes, true);

      const inputs2 = await checked(impl, { ...inputs, externalNamespace: "mail.example.com" });
      const updated = await impl.update(created.id, read2.props, inputs2);
      s = getServer(h.stateFile, v.server);
      assert.equal(s.vdirs.owa.internalUrl, "https://outlook.corp.example/owa");
      assert.equal(s.rpc.internalClientsRequireSsl, true);
      assert.equal(s.vdirs.oab.externalUrl, "https://mail.example.com/OAB");
      assert.deepEqual(updated.outs.drift, []);
      assert.equal(updated.outs.originals["oab.externalUrl"], null, "the external URL found before it was first managed is recorded");

      await impl.delete(created.id, updated.outs);
      s = getServer(h.stateFile, v.server);
      assert.deepEqual(s.vdirs, before.vdirs, "every URL found before create is back");
      assert.equal(s.autoDiscoverServiceInternalUri, before.autoDiscoverServiceInternalUri);
      assert.deepEqual(s.rpc, before.rpc);
    });

    it("AsaBinding: binds DOMAIN\\NAME$, reports a credential replaced or removed by hand, rotates keeping the previous one, removes on delete", async () => {
      const impl = asaBindingImpl;
      const inputs = await checked(impl, { server: v.server, account: "CORP\\EXCH-ASA$", password: "first-Pass-1" });
      const created = await impl.create(inputs);
      let s = getServer(h.stateFile, v.server);
      assert.equal(s.asa.length, 1);
      assert.equal(s.asa[0].userName, "CORP\\EXCH-ASA$");
      assert.equal(s.asa[0].password, "first-Pass-1");
      assert.equal(created.outs.boundAt, s.asa[0].whenAddedUtc);

      const read1 = await impl.read(created.id, created.outs);
      assert.deepEqual(read1.props.drift, []);
      assert.equal((await impl.diff(created.id, read1.props, inputs)).changes, false);

      // By hand: someone runs Set-ClientAccessService … -AlternateServiceAccountCredential again.
      editServer(h.stateFile, v.server, (x) => {
        x.asa = [{ userName: "CORP\\EXCH-ASA$", password: "typed-by-hand", whenAddedUtc: new Date(Date.now() + 1000).toISOString() }, ...x.asa].slice(0, 2);
      });
      const read2 = await impl.read(created.id, read1.props);
      assert.match(read2.props.drift.join(), /replaced by hand/);
      assert.equal((await impl.diff(created.id, read2.props, inputs)).changes, true);

      // Rotation: the server gets exactly the new password and AD's current one, whatever it held
      // (the credential typed by hand is not what AD holds, so it is not kept).
      const inputs2 = await checked(impl, { ...inputs, password: "second-Pass-2", adPassword: "first-Pass-1" });
      const updated = await impl.update(created.id, read2.props, inputs2);
      s = getServer(h.stateFile, v.server);
      assert.equal(s.asa.length, 2, "latest and previous");
      assert.equal(s.asa[0].password, "second-Pass-2");
      assert.equal(s.asa[1].password, "first-Pass-1");
      assert.deepEqual(updated.outs.drift, []);
      assert.equal(updated.outs.previousAccount, "CORP\\EXCH-ASA$");

      // Removed by hand: refresh reports the binding gone.
      editServer(h.stateFile, v.server, (x) => void (x.asa = []));
      assert.equal((await impl.read(created.id, updated.outs)).id, "");

      const again = await impl.create(inputs2);
      await impl.delete(again.id, again.outs);
      assert.deepEqual(getServer(h.stateFile, v.server).asa, []);

      const cmdlets = readTranscript(h.stateFile).flatMap((e) => (e.t === "cmdlet" && /ClientAccess/.test(e.cmdlet) ? [e.cmdlet] : []));
      assert.ok(cmdlets.length > 0);
      assert.ok(cmdlets.every((c) => c.endsWith(v.noun)), `only *-${v.noun} on Exchange ${v.version}: ${[...new Set(cmdlets)].join(", ")}`);
      assert.deepEqual(readTranscript(h.stateFile).filter((e) => e.t === "deprecated"), []);
      // The stand-in's transcript, like script text, never holds a password it was given.
      const transcript = JSON.stringify(readTranscript(h.stateFile));
      for (const pw of ["first-Pass-1", "second-Pass-2"]) assert.ok(!transcript.includes(pw), `the transcript holds ${pw}`);
    });

    it("AsaBinding: refuses a server that already holds ASA credentials unless adopt is set", async () => {
      editServer(h.stateFile, v.server, (x) => void (x.asa = [{ userName: "CORP\\OLD-ASA$", password: "old", whenAddedUtc: "2020-01-01T00:00:00.000Z" }]));
      const inputs = await checked(asaBindingImpl, { server: v.server, account: "CORP\\EXCH-ASA$", password: "pw-1" });
      await assert.rejects(asaBindingImpl.create(inputs), (e: unknown) => e instanceof AlreadyExistsError && /CORP\\OLD-ASA\$/.test(e.message) && /adopt: true/.test(e.message));
      const adopted = await asaBindingImpl.create({ ...inputs, adopt: true });
      assert.equal(adopted.outs.latestAccount, "CORP\\EXCH-ASA$");
      assert.equal(adopted.outs.previousAccount, null, "the other account's credential is replaced, not kept");
      await asaBindingImpl.delete(adopted.id, adopted.outs);
    });

    it("AsaBinding: a server holding only our own ASA's credentials (an earlier create whose answer was lost) is bound again without adopt", async () => {
      editServer(h.stateFile, v.server, (x) => void (x.asa = [{ userName: "CORP\\EXCH-ASA$", password: "half-made", whenAddedUtc: "2020-01-01T00:00:00.000Z" }]));
      const inputs = await checked(asaBindingImpl, { server: v.server, account: "CORP\\EXCH-ASA$", password: "pw-1", adPassword: "pw-ad" });
      const r = await asaBindingImpl.create(inputs);
      assert.deepEqual(getServer(h.stateFile, v.server).asa.map((c) => c.password), ["pw-1", "pw-ad"]);
      await asaBindingImpl.delete(r.id, r.outs);
    });

    it("OutlookAnywhereAuth: adds Negotiate and keeps OAuth, reports hand edits, takes a declared full list, restores what it found", async () => {
      const impl = outlookAnywhereAuthImpl;
      const before = getServer(h.stateFile, v.server);
      const inputs = await checked(impl, { server: v.server });
      const created = await impl.create(inputs);
      let s = getServer(h.stateFile, v.server);
      assert.equal(s.rpc.internalClientAuthenticationMethod, "Negotiate");
      assert.deepEqual(s.rpc.iisAuthenticationMethods, before.rpc.iisAuthenticationMethods.includes("Negotiate") ? before.rpc.iisAuthenticationMethods : [...before.rpc.iisAuthenticationMethods, "Negotiate"]);
      assert.deepEqual(s.vdirs.mapi.iisAuthenticationMethods, [...before.vdirs.mapi.iisAuthenticationMethods!, "Negotiate"], "merged: nothing found is removed (OAuth stays)");
      assert.equal(s.rpc.externalClientAuthenticationMethod, before.rpc.externalClientAuthenticationMethod, "external left alone unless declared");

      const read1 = await impl.read(created.id, created.outs);
      assert.deepEqual(read1.props.drift, []);
      assert.equal((await impl.diff(created.id, read1.props, inputs)).changes, false);

      editServer(h.stateFile, v.server, (x) => {
        x.vdirs.mapi.iisAuthenticationMethods = x.vdirs.mapi.iisAuthenticationMethods!.filter((m) => m !== "Negotiate");
        x.rpc.internalClientAuthenticationMethod = "Ntlm";
      });
      const read2 = await impl.read(created.id, read1.props);
      assert.equal(read2.props.drift.length, 2, read2.props.drift.join("\n"));
      assert.match(read2.props.drift.join("\n"), /mapi\.iisAuthenticationMethods: declared .*Negotiate/);
      assert.equal((await impl.diff(created.id, read2.props, inputs)).changes, true);

      const inputs2 = await checked(impl, { server: v.server, externalClientAuthenticationMethod: "negotiate", mapiIisAuthenticationMethods: ["Ntlm", "Negotiate"] });
      const updated = await impl.update(created.id, read2.props, inputs2);
      s = getServer(h.stateFile, v.server);
      assert.equal(s.rpc.internalClientAuthenticationMethod, "Negotiate");
      assert.equal(s.rpc.externalClientAuthenticationMethod, "Negotiate");
      assert.deepEqual(s.vdirs.mapi.iisAuthenticationMethods, ["Ntlm", "Negotiate"], "a declared full list is authoritative");
      assert.deepEqual(updated.outs.drift, []);

      await impl.delete(created.id, updated.outs);
      s = getServer(h.stateFile, v.server);
      assert.deepEqual(s.rpc, before.rpc);
      assert.deepEqual(s.vdirs.mapi.iisAuthenticationMethods, before.vdirs.mapi.iisAuthenticationMethods);
    });

    it("refuses a server Exchange does not know at check (preview) and at create, naming it and carrying Exchange's message (through the per-resource endpoint)", async () => {
      const news = { server: "EX99", exchange: { endpoint: v.server } };
      const r = await outlookAnywhereAuthImpl.check({}, news);
      assert.deepEqual(r.failures?.map((f) => f.property), ["server"]);
      assert.match(r.failures![0].reason, /EX99/);
      assert.match(r.failures![0].reason, /couldn't be found/);
      await assert.rejects(outlookAnywhereAuthImpl.create(news), (e: unknown) => e instanceof NotFoundError && /server EX99/.test(e.message) && /couldn't be found/.test(e.message));
    });

    it("the stand-in issued only cmdlet calls that ExchangeKerberos.psm1 issues for the same operation", async () => {
      const module = await analyzeModule(fs.readFileSync(modulePath(), "utf8"));
      const entries = readTranscript(h.stateFile).flatMap((e) => (e.t === "cmdlet" ? [e] : []));
      assert.ok(entries.length > 20);
      for (const e of entries) {
        const allowed = reachableCalls(module, e.op);
        assert.ok(allowed.has(callSignature(e.cmdlet, e.params)), `${e.op} → ${e.cmdlet} -${e.params.join(" -")} is not a call the module makes (it makes: ${[...allowed].join("; ")})`);
      }
    });

    it("reports an endpoint that does not answer as unreachable, naming it, at check (preview) and at create", async () => {
      const r = await outlookAnywhereAuthImpl.check({}, { server: "EX99" });
      assert.deepEqual(r.failures?.map((f) => f.property), ["server"]);
      assert.match(r.failures![0].reason, /Exchange at EX99.*exchangeEndpoint/s);
      await assert.rejects(outlookAnywhereAuthImpl.create({ server: "EX99" }), (e: unknown) => e instanceof UnreachableError && /Exchange at EX99/.test(e.message) && /exchangeEndpoint/.test(e.message));
    });
  });
}

describe("Exchange resources' check (offline)", () => {
  it("refuses a non-https URL, a missing namespace, a malformed ASA account and an unknown method, naming the field", async () => {
    const vd = await exchangeVirtualDirectoryUrlsImpl.check({}, { server: "EX1", internalUrls: { owa: "http://outlook.corp.example/owa" } });
    assert.deepEqual(vd.failures?.map((f) => f.property).sort(), ["internalUrls.owa", "namespace"]);
    const asa = await asaBindingImpl.check({}, { server: "EX1", account: "EXCH-ASA", password: "" });
    assert.deepEqual(asa.failures?.map((f) => f.property).sort(), ["account", "password"]);
    assert.match(asa.failures![0].reason + asa.failures![1].reason, /DOMAIN\\NAME\$/);
    const oa = await outlookAnywhereAuthImpl.check({}, { server: "EX1", internalClientAuthenticationMethod: "Kerberos", mapiIisAuthenticationMethods: ["Ntlm", "Ntlm"] });
    assert.deepEqual(oa.failures?.map((f) => f.property).sort(), ["internalClientAuthenticationMethod", "mapiIisAuthenticationMethods"]);
  });
});
