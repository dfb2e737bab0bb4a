// KdcProxyServer through its whole life against the Exchange stand-in (a TEST DOUBLE: its Windows
// server GW1 is emulated, not Windows): check refuses at preview what up would fail on; create
// configures KPSSVC's settings, the URL reservation, the certificate binding and the service; read
// reports hand changes; update corrects them; delete puts back exactly what create found. A binding
// of 0.0.0.0:443 another application holds (IIS's) is refused and never touched. The impl is
// called as Pulumi's engine calls it.
import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import { kdcProxyServerImpl, DEFAULT_APP_ID } from "../../../provider/resources/kdc-proxy-server";
import { InvalidInputError, UnreachableError } from "../../../provider/errors";
import { kdcProxySession, setKdcProxy } from "../../../provider/exchange/kdc-proxy";
import { modulePath } from "../../../provider/exchange/channel";
import { editWindowsHost, getWindowsHost, readTranscript, seedWindowsHosts, setFaults } from "../../fixtures/exchange-standin/state";
import { analyzeModule, callSignature, reachableCalls } from "../../unit/exchange/powershell-static";
import { startStandin, type Harness } from "./standin-harness";

const CERT = "0123456789ABCDEF0123456789ABCDEF01234567";
const IIS_CERT = "FEDCBA9876543210FEDCBA9876543210FEDCBA98";
const IIS_APP = "{4dc3e181-e14b-4a21-b022-59fc669b0914}";

describe("KdcProxyServer against the stand-in (a test double for Exchange and its Windows server)", function () {
  this.timeout(60000);
  let h: Harness;
  before(async () => {
    h = await startStandin([{ name: "EX1", version: "2019" }]);
    seedWindowsHosts(h.stateFile, [
      { name: "GW1", certificates: [CERT] },
      // An Exchange server: IIS binds 0.0.0.0:443 with its own certificate.
      { name: "GW2", certificates: [CERT], iisCertificate: IIS_CERT, kpssvcSettings: null },
      { name: "OLD1", certificates: [CERT], kpssvc: null },
      // KPSSVC disabled by hand while it ran: Running, start type Disabled.
      { name: "GW3", certificates: [CERT], kpssvc: { status: "Running", startType: "Disabled" } },
    ]);
  });
  after(async () => h.done());

  const inputs = (server: string, more: Record<string, unknown> = {}) => ({ server, certificateThumbprint: CERT.toLowerCase().replace(/(.{8})/g, "$1 "), via: "EX1", ...more });

  it("configures KPSSVC, reports hand changes, corrects them, and restores what it found", async () => {
    const impl = kdcProxyServerImpl;
    const before = getWindowsHost(h.stateFile, "GW1");
    const checked = await impl.check({}, inputs("GW1"));
    assert.deepEqual(checked.failures ?? [], []);
    const ins = checked.inputs as Record<string, unknown>;
    assert.equal(ins.certificateThumbprint, CERT, "a thumbprint copied with spaces is normalised");
    const created = await impl.create(ins);
    let g = getWindowsHost(h.stateFile, "GW1");
    assert.deepEqual(g.kpssvc, { status: "Running", startType: "Automatic" });
    assert.deepEqual(g.kpssvcSettings, { HttpsClientAuth: 0, DisallowUnprotectedPasswordAuth: 0 });
    assert.deepEqual(g.urlAcls, { "https://+:443/KdcProxy": "NT AUTHORITY\\NETWORK SERVICE" });
    assert.deepEqual(g.sslCerts, { "0.0.0.0:443": { certHash: CERT, appId: DEFAULT_APP_ID } });
    assert.deepEqual(created.outs.drift, []);
    assert.equal(created.outs.originals.status, "Stopped");

    const read1 = await impl.read(created.id, created.outs);
    assert.deepEqual(read1.props.drift, []);
    assert.equal((await impl.diff(created.id, read1.props, ins)).changes, false);

    editWindowsHost(h.stateFile, "GW1", (x) => {
      x.kpssvcSettings = { HttpsClientAuth: 1, DisallowUnprotectedPasswordAuth: 0 };
      delete x.urlAcls["https://+:443/KdcProxy"];
      x.kpssvc = { status: "Stopped", startType: "Disabled" };
    });
    const read2 = await impl.read(created.id, read1.props);
    assert.equal(read2.props.drift.length, 4, read2.props.drift.join("\n"));
    assert.match(read2.props.drift.join("\n"), /GW1 httpsClientAuth: declared 0, found 1/);
    assert.match(read2.props.drift.join("\n"), /GW1 urlReserved: declared true, found false/);
    assert.match(read2.props.drift.join("\n"), /GW1 startType: declared Automatic, found Disabled/);
    assert.equal((await impl.diff(created.id, read2.props, ins)).changes, true);

    const starts = getWindowsHost(h.stateFile, "GW1").serviceStarts;
    const updated = await impl.update(created.id, read2.props, ins);
    g = getWindowsHost(h.stateFile, "GW1");
    assert.deepEqual(updated.outs.drift, []);
    assert.equal(g.kpssvcSettings?.HttpsClientAuth, 0);
    assert.ok(g.urlAcls["https://+:443/KdcProxy"]);
    assert.deepEqual(g.kpssvc, { status: "Running", startType: "Automatic" });
    assert.equal(g.serviceStarts, starts + 1, "the service is started once, reading the corrected settings");
    assert.equal(updated.outs.originals.status, "Stopped", "what create found stays recorded for destroy");

    await impl.delete(created.id, updated.outs);
    g = getWindowsHost(h.stateFile, "GW1");
    assert.deepEqual({ ...g, serviceStarts: 0 }, { ...before, serviceStarts: 0 }, "everything create found is back");
  });

  it("on a server where IIS binds 0.0.0.0:443 (every Exchange server): refused at preview naming IIS, never replaced by create nor deleted by a destroy", async () => {
    const impl = kdcProxyServerImpl;
    const before = getWindowsHost(h.stateFile, "GW2");
    const news = inputs("GW2", { httpsClientAuth: true, appId: "8D5E7A1B-0C2D-4E3F-9A8B-7C6D5E4F3A2B" });
    const checked = await impl.check({}, news);
    assert.equal(checked.failures?.length, 1, JSON.stringify(checked.failures));
    assert.equal(checked.failures![0].property, "server");
    assert.match(checked.failures![0].reason, /GW2's certificate binding of 0\.0\.0\.0:443 belongs to IIS \(application \{4dc3e181-e14b-4a21-b022-59fc669b0914\}, certificate FEDCBA.*OWA, EWS, MAPI, Autodiscover.*Fix: publish the KDC proxy on a server where nothing else serves HTTPS on 443/);
    // Past the preview (a refresh of a stack made by hand): create refuses it too, before any change.
    await assert.rejects(impl.create({ ...news, certificateThumbprint: CERT, appId: "{8d5e7a1b-0c2d-4e3f-9a8b-7c6d5e4f3a2b}", url: "https://+:443/KdcProxy" }), (e: unknown) => e instanceof InvalidInputError && e.code === "KDC_PROXY_PORT_TAKEN");
    // And the module itself (the stand-in's copy of it) replaces no binding of another application.
    const session = kdcProxySession("GW2", "EX1");
    await assert.rejects(setKdcProxy(session, { server: "GW2", url: "https://+:443/KdcProxy", ipPort: "0.0.0.0:443" }, { sslBinding: { certHash: CERT, appId: DEFAULT_APP_ID } }, DEFAULT_APP_ID), /belongs to application \{4dc3e181/);
    await assert.rejects(setKdcProxy(session, { server: "GW2", url: "https://+:443/KdcProxy", ipPort: "0.0.0.0:443" }, { sslBinding: null }, DEFAULT_APP_ID), /belongs to application \{4dc3e181/);
    const g = getWindowsHost(h.stateFile, "GW2");
    assert.deepEqual(g.sslCerts, before.sslCerts, "IIS's binding is untouched");
    assert.equal(g.iisHttpsLost, undefined, "IIS's HTTPS sites kept their certificate throughout");
  });

  it("a stack made by an earlier release that took IIS's binding: destroy gives IIS its binding back", async () => {
    const impl = kdcProxyServerImpl;
    seedWindowsHosts(h.stateFile, [{ name: "GW4", certificates: [CERT], iisCertificate: IIS_CERT, kpssvcSettings: null }]);
    const before = getWindowsHost(h.stateFile, "GW4");
    // What the earlier release left: its own binding in place of IIS's, IIS's recorded as found.
    editWindowsHost(h.stateFile, "GW4", (x) => {
      x.sslCerts["0.0.0.0:443"] = { certHash: CERT, appId: DEFAULT_APP_ID };
    });
    const ins = (await impl.check({ appId: DEFAULT_APP_ID }, inputs("GW4"))).inputs as Record<string, unknown>;
    const originals = { httpsClientAuth: null, disallowUnprotectedPasswordAuth: null, urlReserved: false, sslBinding: `${IIS_CERT} ${IIS_APP}`, startType: "Manual", status: "Stopped" };
    await impl.delete("gw4/kdc-proxy", { ...ins, settings: {}, originals, drift: [] } as never);
    assert.deepEqual(getWindowsHost(h.stateFile, "GW4").sslCerts, before.sslCerts, "IIS's binding is back");
  });

  it("delete puts back a service that was running when it was disabled: restarted for the restored binding first, disabled after", async () => {
    const impl = kdcProxyServerImpl;
    const before = getWindowsHost(h.stateFile, "GW3");
    const ins = (await impl.check({}, inputs("GW3"))).inputs as Record<string, unknown>;
    const created = await impl.create(ins);
    assert.deepEqual(getWindowsHost(h.stateFile, "GW3").kpssvc, { status: "Running", startType: "Automatic" });
    // Windows refuses to start a Disabled service, so a restart after the start type went back to
    // Disabled would leave KPSSVC stopped and fail the destroy.
    await impl.delete(created.id, created.outs);
    const g = getWindowsHost(h.stateFile, "GW3");
    assert.deepEqual(g.kpssvc, before.kpssvc);
    assert.deepEqual(g.sslCerts, before.sslCerts);
  });

  it("refuses at check, one failure naming the field: a certificate not in the store, a server without KPSSVC, a server WinRM does not reach, and bad values offline", async () => {
    const impl = kdcProxyServerImpl;
    const one = async (news: Record<string, unknown>) => {
      const r = await impl.check({}, news);
      assert.equal(r.failures?.length, 1, JSON.stringify(r.failures));
      return r.failures![0];
    };
    let f = await one(inputs("GW1", { certificateThumbprint: IIS_CERT }));
    assert.equal(f.property, "certificateThumbprint");
    assert.match(f.reason, /no certificate FEDCBA.* in Cert:\\LocalMachine\\My on GW1\. Fix: import/);
    f = await one(inputs("OLD1"));
    assert.equal(f.property, "server");
    assert.match(f.reason, /OLD1 has no KDC Proxy Server service \(kpssvc\).*Fix: use a server running Windows Server 2012 or later/);
    f = await one(inputs("GW9"));
    assert.equal(f.property, "server");
    assert.match(f.reason, /GW9.*WinRM cannot complete the operation/);
    f = await one(inputs("GW1", { certificateThumbprint: "0123\u200e456789ABCDEF0123456789ABCDEF01234567" }));
    assert.equal(f.property, "certificateThumbprint");
    assert.match(f.reason, /invisible character.*Fix: give the 40 hex digits/);
    f = await one(inputs("GW1", { url: "https://+:8443/KdcProxy" }));
    assert.equal(f.property, "url");
    assert.match(f.reason, /HttpsUrlGroup.*Fix: use https:\/\/\+:443\/KdcProxy/);
    f = await one(inputs("GW1", { startType: "Disabled" }));
    assert.equal(f.property, "state");
    assert.match(f.reason, /a disabled service cannot run/);
    await assert.rejects(impl.create(inputs("GW9")), (e: unknown) => e instanceof UnreachableError && /GW9/.test(e.message));
  });

  it("a create that fails is recorded with what it found, and the next up converges; an answer lost after the change is sent again without harm", async () => {
    const impl = kdcProxyServerImpl;
    seedWindowsHosts(h.stateFile, [{ name: "GW3", certificates: [CERT] }]);
    const before = getWindowsHost(h.stateFile, "GW3");
    const ins = (await impl.check({}, inputs("GW3"))).inputs as Record<string, unknown>;
    setFaults(h.stateFile, { failOnOperation: { operation: "Set-EkKdcProxy", server: "GW3" } });
    let partial: { id?: string; properties?: Record<string, unknown> } = {};
    await assert.rejects(impl.create(ins), (e: unknown) => {
      partial = e as typeof partial;
      return /stand-in fault/.test(String(e));
    });
    assert.equal(partial.id, "gw3/kdc-proxy", "the engine records the resource (an initialization error)");
    assert.deepEqual((partial.properties as { originals: Record<string, unknown> }).originals.status, "Stopped");
    // The session dies after the change is made and before it answers: the call is sent again.
    setFaults(h.stateFile, { exitOnOperation: "Set-EkKdcProxy", exitAfterCommit: true, exitOnce: true });
    const updated = await impl.update(partial.id!, partial.properties as never, ins);
    setFaults(h.stateFile, undefined);
    assert.ok(readTranscript(h.stateFile).some((e) => e.t === "exit" && /exit on Set-EkKdcProxy after commit/.test(e.reason)), "the fault fired");
    assert.deepEqual(updated.outs.drift, []);
    const g = getWindowsHost(h.stateFile, "GW3");
    assert.deepEqual(Object.keys(g.urlAcls), ["https://+:443/KdcProxy"], "one reservation, not two");
    assert.equal(g.serviceStarts, 1, "started once");
    await impl.delete(partial.id!, updated.outs);
    assert.deepEqual({ ...getWindowsHost(h.stateFile, "GW3"), serviceStarts: 0 }, { ...before, serviceStarts: 0 });
  });

  it("the stand-in's commands are ones the module's functions really issue, and no value reached script text", async () => {
    const module = await analyzeModule(fs.readFileSync(modulePath(), "utf8"));
    const entries = readTranscript(h.stateFile).flatMap((e) => (e.t === "cmdlet" && /KdcProxy/.test(e.op) ? [e] : []));
    assert.ok(entries.some((e) => e.cmdlet === "netsh http add sslcert") && entries.some((e) => e.cmdlet === "Set-ItemProperty"));
    for (const e of entries) {
      const allowed = reachableCalls(module, e.op);
      assert.ok(allowed.has(callSignature(e.cmdlet, e.params)), `${e.op} → ${e.cmdlet} ${e.params.join(" ")} is not a call the module makes (it makes: ${[...allowed].join("; ")})`);
    }
    const lines = h.scriptLines().filter((l) => /KdcProxy/.test(l));
    assert.ok(lines.length > 5);
    for (const l of lines) assert.doesNotMatch(l, /GW1|0123456789ABCDEF|https:\/\//);
  });
});
