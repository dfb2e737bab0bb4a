// The PowerShell session layer against the Exchange stand-in (a TEST DOUBLE launched in place of
// pwsh, speaking the session's line protocol): values travel as data, never as script text; one
// session per endpoint however many resources; a dead session is started again once; a call that
// hangs times out with a clear error.
import * as assert from "node:assert/strict";
import { asaBindingImpl } from "../../../provider/resources/asa-binding";
import { exchangeVirtualDirectoryUrlsImpl } from "../../../provider/resources/exchange-virtual-directory-urls";
import { outlookAnywhereAuthImpl } from "../../../provider/resources/outlook-anywhere-auth";
import type { ResourceImpl } from "../../../provider/resources/dynamic";
import { UnreachableError } from "../../../provider/errors";
import { closeExchangeSessions } from "../../../provider/exchange/session";
import { getServer, readState, readTranscript, setFaults } from "../../fixtures/exchange-standin/state";
import { exchangeStatsSinceMark, markExchangeStats, startStandin, type Harness } from "./standin-harness";

async function create(impl: ResourceImpl, news: Record<string, unknown>) {
  const r = await impl.check({}, news);
  assert.deepEqual(r.failures ?? [], []);
  return impl.create(r.inputs);
}

/** Every quote PowerShell knows (spec §2.3.5.2), $, backtick, ;, |, a newline and non-ASCII. */
const NASTY = "it's ‘q’ ‚q‛ \"d\" “d” „d $env:PATH $(calc) `n ; | ü ß 中 ☃\r\nline2";

describe("Exchange session: values cross as data (stand-in)", function () {
  this.timeout(60000);
  let h: Harness;
  const exchangePassword = `ex-${NASTY}`;
  before(async () => {
    h = await startStandin([{ name: "EX16", version: "2016" }], { exchangeUser: "CORP\\ex'admin", exchangePassword }, { requiredCredential: { user: "CORP\\ex'admin", password: exchangePassword } });
  });
  after(async () => h.done());

  it("passes passwords and URLs with every quote, $, backtick, ;, |, newline and non-ASCII unchanged, and none of them is ever in script text", async () => {
    const asaPassword = `asa-${NASTY}`;
    const owa = "https://outlook.corp.example/owa/it's‘’‚‛\"“”„$x`;|ü";
    const ecp = "https://outlook.corp.example/ecp?q=$(whoami);a|b'c";
    const binding = await create(asaBindingImpl, { server: "EX16", account: "CORP\\EXCH-ASA$", password: asaPassword });
    const urls = await create(exchangeVirtualDirectoryUrlsImpl, { server: "EX16", namespace: "outlook.corp.example", internalUrls: { owa, ecp } });

    // The session's own credential arrived unchanged: the stand-in accepted exactly that password.
    const server = getServer(h.stateFile, "EX16");
    assert.equal(server.asa[0].password, asaPassword, "the ASA password reached Exchange unchanged");
    const received = readTranscript(h.stateFile).flatMap((e) => (e.t === "cmdlet" && e.cmdlet === "Set-OwaVirtualDirectory" ? [e.values.InternalUrl] : []));
    assert.deepEqual(received, [owa], "Set-OwaVirtualDirectory received the URL exactly as declared");
    const ecpReceived = readTranscript(h.stateFile).flatMap((e) => (e.t === "cmdlet" && e.cmdlet === "Set-EcpVirtualDirectory" ? [e.values.InternalUrl] : []));
    assert.deepEqual(ecpReceived, [ecp]);
    assert.deepEqual((await exchangeVirtualDirectoryUrlsImpl.read(urls.id, urls.outs)).props.drift, [], "Exchange's normalised URL (System.Uri) is not drift");

    const script = h.scriptLines();
    assert.ok(script.some((l) => l.startsWith("Invoke-EkOperation -Name 'Set-EkAsaCredential'")), "the transcript holds the calls");
    const fragments = [asaPassword, exchangePassword, owa, ecp, ...NASTY.split(/\s+/).filter((w) => w.length >= 2)];
    for (const line of script) {
      for (const f of fragments) assert.ok(!line.includes(f), `script text contains ${JSON.stringify(f)}: ${line}`);
      assert.match(line, /^[\x20-\x7e]*$/, "script text is printable ASCII only");
    }
    // Not even decodable from script text: every base64 run decoded holds neither password.
    const decoded = script.flatMap((l) => l.match(/[A-Za-z0-9+/]{16,}={0,2}/g) ?? []).map((b) => Buffer.from(b, "base64").toString("utf8"));
    assert.ok(decoded.some((d) => d.includes("outlook.corp.example")), "values do travel as base64 JSON");
    for (const d of decoded) {
      assert.ok(!d.includes("asa-it's") && !d.includes("ex-it's"), "a password is readable from script text");
      assert.ok(!d.includes(JSON.stringify(asaPassword).slice(1, -1)) && !d.includes(JSON.stringify(exchangePassword).slice(1, -1)));
    }
    // Nor in the process arguments.
    const starts = readTranscript(h.stateFile).flatMap((e) => (e.t === "start" ? [e.argv] : []));
    assert.deepEqual(starts[0], ["-NoLogo", "-NoProfile", "-NonInteractive", "-NoExit", "-Command", "-"]);

    await asaBindingImpl.delete(binding.id, binding.outs);
    await exchangeVirtualDirectoryUrlsImpl.delete(urls.id, urls.outs);
  });
});

describe("Exchange session: one session per endpoint (stand-in)", function () {
  this.timeout(120000);
  let h: Harness;
  before(async () => {
    h = await startStandin([
      { name: "EX1", version: "2013" },
      { name: "EX2", version: "2016" },
      { name: "EX3", version: "2019" },
    ]);
  });
  after(async () => h.done());

  it("twenty resources against three servers share three sessions, one per endpoint, calls queued", async () => {
    const servers = ["EX1", "EX2", "EX3"];
    const kinds: [ResourceImpl, (s: string, i: number) => Record<string, unknown>][] = [
      [exchangeVirtualDirectoryUrlsImpl, (s) => ({ server: s, namespace: "outlook.corp.example" })],
      [outlookAnywhereAuthImpl, (s) => ({ server: s })],
      [asaBindingImpl, (s, i) => ({ server: s, account: "CORP\\EXCH-ASA$", password: `pw-${i}`, adopt: true })],
    ];
    const plan = Array.from({ length: 20 }, (_, i) => ({ impl: kinds[Math.floor(i / 3) % 3][0], news: kinds[Math.floor(i / 3) % 3][1](servers[i % 3], i) }));
    // As Pulumi's engine does: every resource's create in flight at once.
    const created = await Promise.all(plan.map((p) => create(p.impl, p.news)));
    const reads = await Promise.all(created.map((c, i) => plan[i].impl.read(c.id, c.outs)));
    assert.equal(reads.length, 20);

    const stats = exchangeStatsSinceMark();
    const standin = readState(h.stateFile).counters;
    console.log(`      provider exchangeStatsSinceMark(): sessionsStarted=${stats.sessionsStarted} restarts=${stats.restarts} calls=${stats.calls} perOperation=${JSON.stringify(stats.callsPerOperation)}`);
    console.log(`      stand-in (test double) counters: sessions=${standin.sessions} perEndpoint=${JSON.stringify(standin.sessionsPerEndpoint)} calls=${standin.calls}`);
    assert.equal(stats.sessionsStarted, 3);
    assert.equal(stats.restarts, 0);
    assert.deepEqual(standin.sessionsPerEndpoint, { EX1: 1, EX2: 1, EX3: 1 });
    assert.equal(stats.callsPerOperation["Get-EkServerInfo"], 3, "each server's version is asked once per session");
    assert.equal(stats.calls, standin.calls, "every call the provider counted reached the stand-in");
    for (const e of Object.values(stats.endpoints)) assert.equal(e.sessionsStarted, 1);
  });
});

describe("Exchange session: dead sessions and timeouts (stand-in)", function () {
  this.timeout(60000);
  let h: Harness;
  before(async () => {
    h = await startStandin([{ name: "EX2", version: "2016" }], { exchangeTimeoutMs: "1500" });
  });
  after(async () => h.done());
  beforeEach(async () => {
    await closeExchangeSessions();
    markExchangeStats();
    setFaults(h.stateFile, undefined);
  });

  it("starts a session that died during a read again, once, and the read succeeds", async () => {
    const r = await create(outlookAnywhereAuthImpl, { server: "EX2" });
    setFaults(h.stateFile, { exitOnOperation: "Get-EkOutlookAuth", exitOnce: true });
    const read = await outlookAnywhereAuthImpl.read(r.id, r.outs);
    assert.deepEqual(read.props.drift, []);
    const s = exchangeStatsSinceMark();
    assert.equal(s.restarts, 1);
    assert.equal(s.sessionsStarted, 2);
    await outlookAnywhereAuthImpl.delete(r.id, r.outs);
  });

  it("sends the explicit ASA credential set again when the session dies during it: the server ends with exactly the new and AD's current password", async () => {
    setFaults(h.stateFile, { exitOnOperation: "Set-EkAsaCredential", exitOnce: true });
    const r = await create(asaBindingImpl, { server: "EX2", account: "CORP\\EXCH-ASA$", password: "pw-new", adPassword: "pw-ad" });
    assert.equal(h.scriptLines().filter((l) => l.startsWith("Invoke-EkOperation -Name 'Set-EkAsaCredential'")).length, 2, "sent again after the restart");
    assert.deepEqual(getServer(h.stateFile, "EX2").asa.map((c) => c.password), ["pw-new", "pw-ad"]);
    await asaBindingImpl.delete(r.id, r.outs);
  });

  it("gives up on a call that does not answer in time, with a clear error, and the next call starts a new session", async () => {
    const r = await create(outlookAnywhereAuthImpl, { server: "EX2" });
    setFaults(h.stateFile, { delayMs: 4000 });
    await assert.rejects(outlookAnywhereAuthImpl.read(r.id, r.outs), (e: unknown) => e instanceof UnreachableError && /did not answer within 1500 ms/.test(e.message) && /exchangeTimeoutMs/.test(e.message));
    setFaults(h.stateFile, undefined);
    const read = await outlookAnywhereAuthImpl.read(r.id, r.outs);
    assert.deepEqual(read.props.drift, []);
    assert.equal(exchangeStatsSinceMark().timeouts, 1);
    await outlookAnywhereAuthImpl.delete(r.id, r.outs);
  });
});
