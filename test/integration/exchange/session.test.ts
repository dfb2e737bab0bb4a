// The PowerShell session layer against the Exchange stand-in (a TEST DOUBLE launched in place of
// pwsh, speaking the session's line protocol): values travel as data, never as script text; a pool
// of sessions per endpoint however many resources, shrunk when Exchange refuses one; one read per
// server for the three resources; a dead session is started again once; a call that
// hangs times out with a clear error.
import * as assert from "node:assert/strict";
import { asaBindingImpl } from "../../../provider/resources/asa-binding";
import { exchangeVirtualDirectoryUrlsImpl } from "../../../provider/resources/exchange-virtual-directory-urls";
import { outlookAnywhereAuthImpl } from "../../../provider/resources/outlook-anywhere-auth";
import type { ResourceImpl } from "../../../provider/resources/dynamic";
import { UnreachableError } from "../../../provider/errors";
import { closeExchangeSessions } from "../../../provider/exchange/session";
import { exchangeServer, getOutlookAuth } from "../../../provider/exchange/operations";
import { DEFAULT_EXCHANGE_SESSIONS } from "../../../provider/settings";
import { editServer, getServer, readState, readTranscript, setFaults } from "../../fixtures/exchange-standin/state";
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
    assert.deepEqual(starts[0], ["-NoLogo", "-NoProfile", "-NonInteractive", "-ExecutionPolicy", "Bypass", "-NoExit", "-Command", "-"]);

    await asaBindingImpl.delete(binding.id, binding.outs);
    await exchangeVirtualDirectoryUrlsImpl.delete(urls.id, urls.outs);
  });
});

/**
 * Twenty resources on three servers, every create and then every read in flight at once, as the
 * engine sends them. `withAsa` false leaves the bindings out (their writes run in a session of their
 * own on each server: TargetServer).
 */
async function twentyResources(withAsa = true): Promise<void> {
  const servers = ["EX1", "EX2", "EX3"];
  const kinds: [ResourceImpl, (s: string, i: number) => Record<string, unknown>][] = [
    [exchangeVirtualDirectoryUrlsImpl, (s) => ({ server: s, namespace: "outlook.corp.example" })],
    [outlookAnywhereAuthImpl, (s) => ({ server: s })],
    [asaBindingImpl, (s, i) => ({ server: s, account: "CORP\\EXCH-ASA$", password: `pw-${i}`, adopt: true })],
  ];
  const used = withAsa ? kinds : kinds.slice(0, 2);
  const plan = Array.from({ length: 20 }, (_, i) => ({ impl: used[Math.floor(i / 3) % used.length][0], news: used[Math.floor(i / 3) % used.length][1](servers[i % 3], i) }));
  const created = await Promise.all(plan.map((p) => create(p.impl, p.news)));
  const reads = await Promise.all(created.map((c, i) => plan[i].impl.read(c.id, c.outs)));
  assert.equal(reads.filter((r) => r.id !== "").length, 20);
}

const THREE = [
  { name: "EX1", version: "2013" as const },
  { name: "EX2", version: "2016" as const },
  { name: "EX3", version: "2019" as const },
];

/** The most spans that were in progress at one moment. */
function mostAtOnce(spans: { start: number; end: number }[]): number {
  const edges = spans.flatMap((w) => [[w.start, 1], [w.end, -1]] as [number, number][]).sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  let now = 0;
  let most = 0;
  for (const [, d] of edges) most = Math.max(most, (now += d));
  return most;
}

describe("Exchange session: a pool per endpoint (stand-in)", function () {
  this.timeout(120000);
  let h: Harness | undefined;
  afterEach(async () => h?.done());

  it("exchangeSessions 1: twenty resources against three servers share three sessions, one per endpoint, calls queued (and one on each server for its ASA credential)", async () => {
    h = await startStandin(THREE, { exchangeSessions: "1" });
    await twentyResources();
    const stats = exchangeStatsSinceMark();
    const standin = readState(h.stateFile).counters;
    console.log(`      provider exchangeStatsSinceMark(): sessionsStarted=${stats.sessionsStarted} restarts=${stats.restarts} calls=${stats.calls} perOperation=${JSON.stringify(stats.callsPerOperation)}`);
    const shared = Object.entries(stats.endpoints).filter(([k]) => k.split("|")[3] === "");
    const targeted = Object.entries(stats.endpoints).filter(([k]) => k.split("|")[3] !== "");
    assert.deepEqual(shared.map(([k, e]) => [k.split("|")[2], e.sessionsStarted]).sort(), [["ex1", 1], ["ex2", 1], ["ex3", 1]]);
    assert.deepEqual(targeted.map(([k, e]) => [k.split("|")[3], e.sessionsStarted, e.calls]).sort(), [["ex1.corp.example", 1, 3], ["ex2.corp.example", 1, 3], ["ex3.corp.example", 1, 3]], "Connect-EkExchange and the credential's two binds, on the server itself");
    assert.equal(stats.restarts, 0);
    assert.deepEqual(standin.sessionsPerEndpoint, { EX1: 2, EX2: 2, EX3: 2 });
    assert.equal(stats.callsPerOperation["Get-EkServerInfo"], 3, "each server's version is asked once per endpoint");
    assert.equal(stats.calls, standin.calls, "every call the provider counted reached the stand-in");
  });

  it("by default: calls for one endpoint run in up to exchangeSessions sessions at once, never more, every call answered once", async () => {
    // One endpoint (EX3) manages all three servers, as exchangeEndpoint makes it; every answer waits 150 ms (the latency model).
    h = await startStandin(THREE, { exchangeEndpoint: "EX3" }, { latency: { name: "test", sessionOpenMs: 300, roundTripMs: 150, cmdletMs: 0, jitter: 0, maxSessionsPerUser: 0 } });
    const t0 = Date.now();
    await twentyResources();
    const wall = Date.now() - t0;
    const stats = exchangeStatsSinceMark();
    const standin = readState(h.stateFile).counters;
    const shared = Object.entries(stats.endpoints).filter(([k]) => k.split("|")[3] === "").map(([, e]) => e.sessionsStarted);
    assert.deepEqual(shared, [DEFAULT_EXCHANGE_SESSIONS], `${DEFAULT_EXCHANGE_SESSIONS} sessions opened while calls waited (${JSON.stringify(stats)})`);
    assert.equal(stats.sessionsStarted, DEFAULT_EXCHANGE_SESSIONS + 3, "and one on each server for its ASA credential");
    assert.deepEqual(standin.sessionsPerEndpoint, { EX1: 1, EX2: 1, EX3: DEFAULT_EXCHANGE_SESSIONS + 1 });
    assert.equal(stats.calls, standin.calls, "every call the provider counted reached the stand-in, once");
    // The sessions work side by side: the stand-in saw at least three of its modeled waits at once
    // (judged from the waits themselves, not from a wall time the machine's load stretches).
    assert.ok(mostAtOnce(standin.modeledWaits ?? []) >= 3, `at most ${mostAtOnce(standin.modeledWaits ?? [])} calls at once (${wall} ms in all)`);
  });

  it("once a session is open, calls that are answered at once never open a second one: each waits for the one before it instead", async () => {
    h = await startStandin(THREE, { exchangeEndpoint: "EX3" });
    const ex1 = await exchangeServer("EX1");
    // Two version questions at once, then three reads at once: never more than one answered at a time.
    const servers = [ex1, ...(await Promise.all(["EX2", "EX3"].map((s) => exchangeServer(s))))];
    await Promise.all(servers.map((x) => getOutlookAuth(x)));
    const stats = exchangeStatsSinceMark();
    assert.deepEqual(stats.callsPerOperation, { "Connect-EkExchange": 1, "Get-EkServerInfo": 3, "Get-EkServerState": 3 });
    assert.equal(stats.sessionsStarted, 1);
  });

  it("calls waiting while the first session opens get sessions of their own, opened side by side, each taking the first call in line", async () => {
    // An open long enough (3 s) that a second session started 100 ms into it is opening while the
    // first still is, even when starting a process takes a second on a loaded machine.
    h = await startStandin(THREE, { exchangeEndpoint: "EX3" }, { latency: { name: "test", sessionOpenMs: 3000, roundTripMs: 600, cmdletMs: 0, jitter: 0, maxSessionsPerUser: 0 } });
    await Promise.all(["EX1", "EX2", "EX3"].map((s) => exchangeServer(s)));
    const stats = exchangeStatsSinceMark();
    assert.deepEqual(stats.callsPerOperation, { "Connect-EkExchange": 3, "Get-EkServerInfo": 3 });
    // Side by side: the three sessions' opens overlap in time (one after another, none would).
    const opens = (readState(h.stateFile).counters.modeledWaits ?? []).filter((w) => w.op === "Connect-EkExchange");
    assert.equal(new Set(opens.map((w) => w.pid)).size, 3, "three sessions");
    assert.ok(mostAtOnce(opens) >= 2, `the opens did not overlap: ${JSON.stringify(opens)}`);
  });

  it("a few calls behind a busy session are served by it as it frees: none waits for an extra session's open", async () => {
    // An open costs thirty calls here (3000 ms vs 100 ms): the five reads are done in the open
    // session long before the extra sessions their wait starts are ready.
    h = await startStandin(THREE, { exchangeEndpoint: "EX3" }, { latency: { name: "test", sessionOpenMs: 3000, roundTripMs: 100, cmdletMs: 0, jitter: 0, maxSessionsPerUser: 0 } });
    const ex3 = await exchangeServer("EX3");
    await Promise.all(Array.from({ length: 5 }, () => getOutlookAuth(ex3)));
    const stats = exchangeStatsSinceMark();
    assert.equal(stats.callsPerOperation["Get-EkServerState"], 5);
    // Every read was answered by the session that was open, none by one opened for it.
    const waits = readState(h.stateFile).counters.modeledWaits ?? [];
    const first = waits.find((w) => w.op === "Connect-EkExchange")!.pid;
    assert.deepEqual([...new Set(waits.filter((w) => w.op === "Get-EkServerState").map((w) => w.pid))], [first], `the reads were answered by ${JSON.stringify(waits)}`);
  });

  it("an extra session Exchange refuses (its throttling limit) shrinks the pool for the run; no call fails, a warning says so", async () => {
    h = await startStandin(THREE, { exchangeEndpoint: "EX3", exchangeSessions: "6" }, { latency: { name: "test", sessionOpenMs: 200, roundTripMs: 100, cmdletMs: 0, jitter: 0, maxSessionsPerUser: 2 } });
    const warnings: string[] = [];
    const write = process.stderr.write.bind(process.stderr);
    process.stderr.write = ((chunk: string | Uint8Array) => (warnings.push(String(chunk)), true)) as typeof process.stderr.write;
    try {
      await twentyResources(false);
    } finally {
      process.stderr.write = write;
    }
    const standin = readState(h.stateFile).counters;
    assert.ok((standin.throttled ?? 0) >= 1, "the stand-in refused at least one session");
    assert.equal(standin.sessionsPerEndpoint.EX3, 2, "two sessions held, as the limit allows");
    assert.ok(warnings.some((w) => /did not open session \d of 6 .*maximum number of connections allowed : 2.*goes on with [12].*exchangeSessions/.test(w)), warnings.join(""));
  });
});

describe("Exchange session: the checks of a preview ask about every declared server at once (stand-in)", function () {
  this.timeout(60000);
  let h: Harness;
  before(async () => {
    h = await startStandin(THREE, { exchangeEndpoint: "EX3", servers: JSON.stringify(["EX1", "EX2", "EX9", "EX3"]) });
  });
  after(async () => h.done());

  it("the first check names every server the stack declares in one Get-EkServerInfo; a server Exchange cannot find fails only its own check (asked again then)", async () => {
    const check = (server: string) => outlookAnywhereAuthImpl.check({}, { server });
    assert.deepEqual((await check("EX2")).failures ?? [], []);
    assert.deepEqual((await check("EX1")).failures ?? [], []);
    assert.deepEqual((await check("EX3")).failures ?? [], []);
    const bad = await check("EX9");
    assert.equal(bad.failures?.length, 1);
    assert.match(bad.failures![0].reason, /EX9.*couldn't be found/);
    assert.deepEqual(exchangeStatsSinceMark().callsPerOperation, { "Connect-EkExchange": 1, "Get-EkServerInfo": 2 });
    const asked = h.scriptLines().filter((l) => l.includes("'Get-EkServerInfo'")).map((l) => (JSON.parse(Buffer.from(/-ParamsBase64 '([^']+)'/.exec(l)![1], "base64").toString("utf8")) as { Servers: string[] }).Servers);
    assert.deepEqual(asked, [["EX2", "EX1", "EX9", "EX3"], ["EX9"]], "the server checked first, then the others the stack declares; the one not found, again for its own check");
  });
});

describe("Exchange session: one read per server (stand-in)", function () {
  this.timeout(60000);
  let h: Harness;
  before(async () => {
    h = await startStandin([{ name: "EX2", version: "2016" }]);
  });
  after(async () => h.done());

  it("the three resources' reads of one server share one Get-EkServerState; a second read and a read after a write go to Exchange again", async () => {
    const urls = await create(exchangeVirtualDirectoryUrlsImpl, { server: "EX2", namespace: "outlook.corp.example" });
    const auth = await create(outlookAnywhereAuthImpl, { server: "EX2" });
    const asa = await create(asaBindingImpl, { server: "EX2", account: "CORP\\EXCH-ASA$", password: "pw-1" });
    await closeExchangeSessions();
    markExchangeStats();
    const reads = await Promise.all([exchangeVirtualDirectoryUrlsImpl.read(urls.id, urls.outs), outlookAnywhereAuthImpl.read(auth.id, auth.outs), asaBindingImpl.read(asa.id, asa.outs)]);
    assert.deepEqual(reads.map((r) => r.id), [urls.id, auth.id, asa.id]);
    assert.deepEqual(exchangeStatsSinceMark().callsPerOperation, { "Connect-EkExchange": 1, "Get-EkServerState": 1 });
    // Changed by hand between two reads: the second read sees it (nothing is served twice from memory).
    editServer(h.stateFile, "EX2", (s) => {
      s.rpc.internalClientAuthenticationMethod = "Ntlm";
    });
    const again = await outlookAnywhereAuthImpl.read(auth.id, auth.outs);
    assert.ok((again.props as { drift: string[] }).drift.length > 0, "the second read went to Exchange and saw the change");
    assert.equal(exchangeStatsSinceMark().callsPerOperation["Get-EkServerState"], 2);
    await outlookAnywhereAuthImpl.delete(auth.id, auth.outs);
    await asaBindingImpl.delete(asa.id, asa.outs);
    await exchangeVirtualDirectoryUrlsImpl.delete(urls.id, urls.outs);
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
    setFaults(h.stateFile, { exitOnOperation: "Get-EkServerState", exitOnce: true });
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
