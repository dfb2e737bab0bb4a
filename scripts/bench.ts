// The benchmark (scripts/bench, npm run bench): what preview, up, refresh, a password rotation and
// destroy cost as a site grows, against the engine's own cost and, under a model of Exchange's
// latency, against the least that latency allows. For each N Client Access servers it runs the site
// stack (examples/site through test/fixtures/site-stack) against a lab Samba AD DC and the Exchange
// stand-in — a TEST DOUBLE for Exchange seeded with EX1..EXN — once answering at once ("zero") and
// once under the stand-in's "realistic" latency model (test/fixtures/exchange-standin/latency.ts:
// session open, round trip, per cmdlet, jitter, sessions per user, each figure's source there), and,
// step by step beside them, the same-shaped stack of no-op dynamic resources
// (test/fixtures/bench-baseline-stack). Per step: wall time, LDAP connections and operations,
// PowerShell sessions and round trips, provider calls (provider/stats.ts), the stand-in's own counts,
// the longest time pulumi's output showed no resource move, and under the model
// the floor: per pass one session open plus ceil(N / pool) times the calls a server cannot do without.
// Writes <out>/bench.md, bench.json and bench.svg, and judges the targets of issue 13.
//
//   scripts/bench [--sizes 1,5,20,50,200] [--realistic-sizes 1,5,20,50] [--repeat 3] [--lab 127.0.0.2]
//                 [--out bench/out] [--sessions K] [--exchange-endpoint shared|per-server]
//                 [--transport process|ssh] [--sshd ADDR]
//     --transport ssh: every session is one ssh connection (the real OpenSSH client) to a Debian sshd
//     on ADDR (default: the lab net's .62, test/fixtures/sshd.ts) whose remote command is the
//     stand-in, as a Windows management host's PowerShell would be; process (default): the
//     stand-in started here.
//     --sizes: N for the zero-latency runs; --realistic-sizes: N for the realistic model (none: "")
//     --sessions: exchange-kerberos:exchangeSessions for our stacks (default: the provider's default)
//     shared (default): exchange-kerberos:exchangeEndpoint names EX1, whose sessions manage every
//     server; per-server: no exchangeEndpoint, so each server's own /PowerShell is an endpoint.
//   --repeat K: the whole lifecycle K times per N on fresh stacks; times are the medians
//   scripts/bench --smoke          N = 1 in both models, three steps: proves the benchmark works (npm test)
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { spawnSync } from "node:child_process";
import { Lab, labAddr, startLab, stopLab } from "../test/fixtures/lab";
import { startSshd, type Sshd } from "../test/fixtures/sshd";
import { CliResult, PulumiCli, REPO_ROOT } from "../test/fixtures/pulumi-cli";
import { readState, seedServers, standinExecutable } from "../test/fixtures/exchange-standin/state";
import { LATENCY_MODELS, type LatencyModel } from "../test/fixtures/exchange-standin/latency";
import { ProviderProcessStats, STATS_FILE_ENV } from "../provider/stats";
import { DEFAULT_EXCHANGE_SESSIONS, DEFAULT_SSH_REMOTE_COMMAND } from "../provider/settings";
import { plotSvg } from "./bench-svg";

export const STEPS = ["preview (new stack)", "up (from empty)", "preview (no changes)", "refresh", "up (rotation)", "destroy"] as const;
export type Step = (typeof STEPS)[number];
const SMOKE_STEPS: Step[] = ["up (from empty)", "refresh", "destroy"];
export const MODES = ["zero", "realistic"] as const;
export type Mode = (typeof MODES)[number];
type Variant = Mode | "baseline";

/**
 * Per pass of a step that talks to Exchange (a provider process: `up` and `refresh` preview first),
 * the calls it cannot do without: `once` per pass (the checks' one question about every server:
 * does it exist, which version), `perServer` for each server (the one read of its state, each
 * resource's one write). Set-EkAsaCredential runs in a session of its own on each server (Exchange
 * sets the ASA credential only there: TargetServer): one more open per server, all side by side,
 * outside the pool's rounds. The floor is built from these.
 */
/** The call that runs in a session on its server (TargetServer), one per server, not in the pool. */
const ON_TARGET = "Set-EkAsaCredential";

export const MINIMUM_CALLS: Record<Step, { once: string[]; perServer: string[] }[]> = {
  "preview (new stack)": [{ once: ["Get-EkServerInfo"], perServer: [] }],
  "up (from empty)": [
    { once: ["Get-EkServerInfo"], perServer: [] },
    { once: ["Get-EkServerInfo"], perServer: ["Get-EkServerState", "Set-EkVdirUrls", "Set-EkAsaCredential", "Set-EkOutlookAuth"] },
  ],
  "preview (no changes)": [{ once: ["Get-EkServerInfo"], perServer: [] }],
  refresh: [
    { once: [], perServer: ["Get-EkServerState"] },
    { once: [], perServer: ["Get-EkServerState"] },
  ],
  "up (rotation)": [
    { once: ["Get-EkServerInfo"], perServer: [] },
    { once: ["Get-EkServerInfo"], perServer: ["Set-EkAsaCredential"] },
  ],
  destroy: [{ once: [], perServer: ["Set-EkVdirUrls", "Remove-EkAsaCredential", "Set-EkOutlookAuth"] }],
};

/** What one pulumi command cost, summed over the provider processes it started. */
export interface Measure {
  /** Wall time; with --repeat, the median repetition's. */
  seconds: number;
  /** Every repetition's wall time, in run order. */
  samples?: number[];
  providerProcesses: number;
  providerCalls: number;
  providerCallsByType: Record<string, Record<string, number>>;
  ldapConnections: number;
  ldapConnectionsByUrl: Record<string, number>;
  /** The most connections one provider process opened to one directory URL. */
  ldapConnectionsPerUrlPerProcess: number;
  ldapOperations: number;
  ldapByOperation: Record<string, number>;
  psSessions: number;
  psSessionsByEndpoint: Record<string, number>;
  /** The most sessions one provider process opened to one endpoint. */
  psSessionsPerEndpointPerProcess: number;
  /** PowerShell round trips (operations sent, Connect-EkExchange included). */
  psCalls: number;
  psCallsByOperation: Record<string, number>;
  /** Provider processes that talked to Exchange (a preview and an update are two). */
  exchangePasses: number;
  /** The longest time (s) without a line of pulumi's per-resource progress (longestQuiet). */
  longestQuietSeconds?: number;
  /** The stand-in's own counters (TEST DOUBLE): sessions it answered, operations it ran, what the latency model added. */
  standin?: { sessions: number; calls: number; modeledMsPerOperation: Record<string, number>; callsPerOperation: Record<string, number>; throttled: number };
}

/** The least a step can take under the latency model (ours only). */
export interface Floor {
  seconds: number;
  roundTrips: number;
  /** The formula with its figures, for the table's reader. */
  detail: string;
}

export interface Row {
  n: number;
  mode: Mode;
  step: Step;
  /** Custom resources in the stack (same in both). */
  resources: number;
  adResources: number;
  exchangeResources: number;
  ours: Measure;
  baseline: Measure;
  floor?: Floor;
}

export interface TargetResult {
  target: string;
  met: boolean;
  detail: string;
}

export interface BenchResult {
  smoke: boolean;
  startedAt: string;
  finishedAt: string;
  machine: { nproc: number; cpuModel: string; loadAverageAtStart: number[]; loadAverageAtEnd: number[]; node: string; pulumi: string };
  lab: string;
  /** shared: one exchangeEndpoint (EX1) for every server; per-server: each server's own session. */
  exchangeEndpoint: EndpointMode;
  /** exchange-kerberos:exchangeSessions of our stacks. */
  sessions: number;
  /** exchange-kerberos:exchangeTransport of our stacks, and where ssh went. */
  transport: Transport;
  sshd?: string;
  models: Record<Mode, LatencyModel>;
  /** Runs of the whole lifecycle per N; times are the median. */
  repeat: number;
  sizes: Record<Mode, number[]>;
  steps: Step[];
  rows: Row[];
  fits: { mode: Mode; step: Step; variant: "ours" | "baseline"; secondsPerServer: number; intercept: number; r2: number }[];
  targets: TargetResult[];
}

type EndpointMode = "shared" | "per-server";
type Transport = "process" | "ssh";

interface Options {
  sizes: Record<Mode, number[]>;
  smoke: boolean;
  lab: string;
  out: string;
  exchangeEndpoint: EndpointMode;
  repeat: number;
  sessions?: number;
  transport: Transport;
  sshd: string;
}

function sizeList(flag: string, v: string): number[] {
  const list = v === "" ? [] : v.split(",").map((x) => Number(x));
  if (list.some((n) => !Number.isInteger(n) || n < 1 || n > 240)) throw new Error(`${flag}: whole numbers from 1 to 240`);
  return list;
}

function parseArgs(argv: string[]): Options {
  const o: Options = { sizes: { zero: [1, 5, 20, 50, 200], realistic: [1, 5, 20, 50] }, smoke: false, lab: "127.0.0.2", out: path.join(REPO_ROOT, "bench", "out"), exchangeEndpoint: "shared", repeat: 3, transport: "process", sshd: labAddr(62) };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const value = () => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${a} needs a value`);
      return v;
    };
    if (a === "--smoke") o.smoke = true;
    else if (a === "--sizes") o.sizes.zero = sizeList(a, value());
    else if (a === "--realistic-sizes") o.sizes.realistic = sizeList(a, value());
    else if (a === "--lab") o.lab = value();
    else if (a === "--out") o.out = path.resolve(value());
    else if (a === "--repeat") o.repeat = Number(value());
    else if (a === "--sessions") o.sessions = Number(value());
    else if (a === "--sshd") o.sshd = value();
    else if (a === "--transport") {
      const v = value();
      if (v !== "process" && v !== "ssh") throw new Error("--transport: process or ssh");
      o.transport = v;
    } else if (a === "--exchange-endpoint") {
      const v = value();
      if (v !== "shared" && v !== "per-server") throw new Error("--exchange-endpoint: shared or per-server");
      o.exchangeEndpoint = v;
    } else throw new Error(`unknown argument ${a} (use --smoke, --sizes 1,5,20,50,200, --realistic-sizes 1,5,20,50, --lab ADDR, --out DIR, --sessions K, --exchange-endpoint shared|per-server, --transport process|ssh, --sshd ADDR, --repeat K)`);
  }
  if (o.smoke) Object.assign(o, { sizes: { zero: [1], realistic: [1] }, repeat: 1 });
  if (!Number.isInteger(o.repeat) || o.repeat < 1) throw new Error("--repeat: a whole number from 1");
  if (o.sessions !== undefined && (!Number.isInteger(o.sessions) || o.sessions < 1 || o.sessions > 64)) throw new Error("--sessions: a whole number from 1 to 64");
  return o;
}

function sum(values: number[]): number {
  return values.reduce((a, b) => a + b, 0);
}

function addInto(into: Record<string, number>, from: Record<string, number>): void {
  for (const [k, v] of Object.entries(from)) into[k] = (into[k] ?? 0) + v;
}

/** Sums the stats files `<prefix>.<pid>.json` the provider processes of one command wrote. */
function readMeasure(prefix: string, seconds: number): Measure {
  const dir = path.dirname(prefix);
  const base = `${path.basename(prefix)}.`;
  const files = fs.readdirSync(dir).filter((f) => f.startsWith(base) && f.endsWith(".json"));
  const procs = files.map((f) => JSON.parse(fs.readFileSync(path.join(dir, f), "utf8")) as ProviderProcessStats);
  const m: Measure = {
    seconds,
    providerProcesses: procs.length,
    providerCalls: 0,
    providerCallsByType: {},
    ldapConnections: sum(procs.map((p) => p.ldap.connectionsOpened)),
    ldapConnectionsByUrl: {},
    ldapConnectionsPerUrlPerProcess: Math.max(0, ...procs.map((p) => maxValue(p.ldap.connectionsByUrl))),
    ldapOperations: sum(procs.map((p) => p.ldap.operations)),
    ldapByOperation: {},
    psSessions: sum(procs.map((p) => p.exchange.sessionsStarted)),
    psSessionsByEndpoint: {},
    psSessionsPerEndpointPerProcess: Math.max(0, ...procs.flatMap((p) => Object.values(p.exchange.endpoints).map((e) => e.sessionsStarted))),
    psCalls: sum(procs.map((p) => p.exchange.calls)),
    psCallsByOperation: {},
    exchangePasses: procs.filter((p) => p.exchange.calls > 0).length,
  };
  for (const p of procs) {
    addInto(m.ldapConnectionsByUrl, p.ldap.connectionsByUrl);
    addInto(m.ldapByOperation, p.ldap.byOperation);
    addInto(m.psCallsByOperation, p.exchange.callsPerOperation);
    for (const [key, e] of Object.entries(p.exchange.endpoints)) m.psSessionsByEndpoint[key] = (m.psSessionsByEndpoint[key] ?? 0) + e.sessionsStarted;
    for (const [type, methods] of Object.entries(p.calls)) {
      addInto((m.providerCallsByType[type] ??= {}), methods);
      m.providerCalls += sum(Object.values(methods));
    }
  }
  return m;
}

/**
 * The longest time (s) the user saw no progress: between the command's start, each line of its
 * output that names one of our resources (pulumi's per-resource status: "creating", "created"...)
 * and its end.
 */
export function longestQuiet(startMs: number, resourceLineMs: number[], endMs: number): number {
  const marks = [startMs, ...resourceLineMs, endMs];
  let gap = 0;
  for (let i = 1; i < marks.length; i++) gap = Math.max(gap, marks[i] - marks[i - 1]);
  return gap / 1000;
}

function log(line: string): void {
  process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${line}\n`);
}

function minus(a: Record<string, number> = {}, b: Record<string, number> = {}): Record<string, number> {
  return Object.fromEntries(Object.entries(a).map(([k, v]) => [k, v - (b[k] ?? 0)]).filter(([, v]) => v !== 0));
}

/** One stack of one variant at one N: a throwaway CLI folder, configured like an admin would. */
class BenchStack {
  private rotations = 0;

  private constructor(
    readonly variant: Variant,
    readonly cli: PulumiCli,
    readonly statsDir: string,
    readonly standinState: string | undefined,
  ) {}

  static async create(variant: Variant, n: number, lab: Lab, tag: string, o: Options, sshd?: Sshd): Promise<BenchStack> {
    const statsDir = fs.mkdtempSync(path.join(os.tmpdir(), `bench-stats-${variant}-`));
    let standinState: string | undefined;
    const servers = Array.from({ length: n }, (_, i) => `EX${i + 1}`);
    const env: Record<string, string> = {};
    if (variant !== "baseline") {
      standinState = path.join(statsDir, "standin-state.json");
      seedServers(standinState, servers.map((name) => ({ name, version: "2019" as const })), variant === "realistic" ? { latency: LATENCY_MODELS.realistic } : {});
      env.EXCHANGE_STANDIN_STATE = standinState;
    }
    const project = variant === "baseline" ? "test/fixtures/bench-baseline-stack" : "test/fixtures/site-stack";
    const cli = await PulumiCli.create({ project, env, timeoutMs: 3_600_000 });
    await cli.selectStack(`bench-n${n}`);
    // The same config in all: the baseline reads the site keys and ignores the connection keys.
    for (const [key, value] of Object.entries(lab.stackConfig)) await cli.setConfig(key, value, { secret: key.endsWith("Password") });
    const values: Record<string, string> = {
      "exchange-kerberos:exchangeShell": standinExecutable(),
      "exchange-kerberos:namespace": `outlook-${tag}.${lab.domain}`,
      "exchange-kerberos:servers": JSON.stringify(servers),
      "exchange-kerberos:dnsZone": lab.domain,
      "exchange-kerberos:dnsAddresses": JSON.stringify(servers.map((_, i) => `192.0.2.${11 + i}`)),
      "exchange-kerberos:asaName": `ASA-${tag}`.toUpperCase().slice(0, 15),
      "exchange-kerberos:asaOu": `OU=Service Accounts,${lab.baseDn}`,
      "exchange-kerberos:extraSpnNames": JSON.stringify([`autodiscover-${tag}.${lab.domain}`]),
    };
    if (o.exchangeEndpoint === "shared") values["exchange-kerberos:exchangeEndpoint"] = `ex1.${lab.domain}`;
    if (o.sessions !== undefined) values["exchange-kerberos:exchangeSessions"] = String(o.sessions);
    if (sshd && standinState) {
      // One sshd for every stack: each stack's remote command names its own stand-in state.
      Object.assign(values, sshd.stackConfig, {
        "exchange-kerberos:sshRemoteCommand": `EXCHANGE_STANDIN_STATE=${standinState} ${DEFAULT_SSH_REMOTE_COMMAND}`,
        "exchange-kerberos:exchangeUser": "CORP\\bench",
      });
      await cli.setConfig("exchange-kerberos:exchangePassword", "bench-only-not-a-secret", { secret: true });
    }
    await cli.setAllConfig(values);
    return new BenchStack(variant, cli, statsDir, standinState);
  }

  private standinCounters(): NonNullable<Measure["standin"]> | undefined {
    if (!this.standinState) return undefined;
    const c = readState(this.standinState).counters;
    return { sessions: c.sessions, calls: c.calls, modeledMsPerOperation: c.modeledMsPerOperation ?? {}, callsPerOperation: c.callsPerOperation, throttled: c.throttled ?? 0 };
  }

  async run(step: Step): Promise<Measure> {
    const prefix = path.join(this.statsDir, step.replace(/[^a-z]+/g, "-"));
    const progress: number[] = [];
    // A line naming a resource of ours or of the baseline: what the user sees move.
    const onLine = (line: string) => {
      if (/exchange-kerberos:|bench:|BenchNoop|dynamic:Resource/.test(line)) progress.push(Date.now());
    };
    const opts = { env: { [STATS_FILE_ENV]: prefix }, onLine };
    if (step === "up (rotation)") {
      // What an admin does to rotate the ASA's password: a new secret in config, then `pulumi up`.
      this.rotations++;
      await this.cli.setConfig("exchange-kerberos:asaPassword", `Bench-rotation-${this.rotations}-${Date.now().toString(36)}-Aa1!`, { secret: true });
    }
    const before = this.standinCounters();
    const t0 = process.hrtime.bigint();
    const start = Date.now();
    const commands: Record<Step, () => Promise<CliResult>> = {
      "preview (new stack)": () => this.cli.preview([], opts),
      "up (from empty)": () => this.cli.up([], opts),
      "preview (no changes)": () => this.cli.preview(["--expect-no-changes"], opts),
      refresh: () => this.cli.refresh([], opts),
      "up (rotation)": () => this.cli.up([], opts),
      destroy: () => this.cli.destroy([], opts),
    };
    await commands[step]();
    const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
    const m = readMeasure(prefix, seconds);
    m.longestQuietSeconds = longestQuiet(start, progress, Date.now());
    const after = this.standinCounters();
    if (before && after) {
      m.standin = {
        sessions: after.sessions - before.sessions,
        calls: after.calls - before.calls,
        modeledMsPerOperation: minus(after.modeledMsPerOperation, before.modeledMsPerOperation),
        callsPerOperation: minus(after.callsPerOperation, before.callsPerOperation),
        throttled: after.throttled - before.throttled,
      };
    }
    return m;
  }

  async dispose(): Promise<void> {
    await this.cli.destroy([], { okCodes: [0, 1, 255] }).catch(() => undefined);
    await this.cli.dispose();
    fs.rmSync(this.statsDir, { recursive: true, force: true });
  }
}

/** The repetition with the median time (its counters, which repetitions share), with every time kept. */
function medianOf(runs: Measure[]): Measure {
  const sorted = [...runs].sort((a, b) => a.seconds - b.seconds);
  return { ...sorted[Math.floor((sorted.length - 1) / 2)], samples: runs.map((m) => m.seconds) };
}

/** Least squares t = a + b·N, with R². */
export function fit(points: [number, number][]): { slope: number; intercept: number; r2: number } {
  const n = points.length;
  const mx = sum(points.map(([x]) => x)) / n;
  const my = sum(points.map(([, y]) => y)) / n;
  const sxx = sum(points.map(([x]) => (x - mx) ** 2));
  const sxy = sum(points.map(([x, y]) => (x - mx) * (y - my)));
  const slope = sxx === 0 ? 0 : sxy / sxx;
  const intercept = my - slope * mx;
  const ssTot = sum(points.map(([, y]) => (y - my) ** 2));
  const ssRes = sum(points.map(([x, y]) => (y - intercept - slope * x) ** 2));
  return { slope, intercept, r2: ssTot === 0 ? 1 : 1 - ssRes / ssTot };
}

function maxValue(rec: Record<string, number>): number {
  return Math.max(0, ...Object.values(rec));
}

/**
 * The floor of one step under the latency model: the baseline's time (the engine's own), plus per
 * pass one session open (the pool's sessions open side by side), the calls made once, and
 * ceil(N / pool) rounds of the calls each server cannot do without (MINIMUM_CALLS), each valued at
 * what the model made it cost in this very step (the stand-in's mean for that operation).
 */
export function floorOf(step: Step, n: number, pool: number, ours: Measure, baseline: Measure): Floor | undefined {
  const s = ours.standin;
  if (!s) return undefined;
  const mean = (op: string): number => ((s.callsPerOperation[op] ?? 0) > 0 ? (s.modeledMsPerOperation[op] ?? 0) / s.callsPerOperation[op] : 0);
  const open = mean("Connect-EkExchange");
  const rounds = Math.ceil(n / pool);
  let ms = 0;
  let roundTrips = 0;
  const parts: string[] = [];
  for (const pass of MINIMUM_CALLS[step]) {
    const once = sum(pass.once.map(mean));
    // The pool's calls come in rounds; the ASA's, each in its server's own session, side by side.
    const pooled = pass.perServer.filter((op) => op !== ON_TARGET);
    const perServer = sum(pooled.map(mean));
    const onTarget = pass.perServer.includes(ON_TARGET) ? open + mean(ON_TARGET) : 0;
    ms += open + once + rounds * perServer + onTarget;
    roundTrips += 1 + pass.once.length + n * pooled.length + (onTarget ? 2 * n : 0);
    const what = [
      ...(pass.once.length ? [`${(once / 1000).toFixed(1)} (${pass.once.join(" + ")})`] : []),
      ...(pooled.length ? [`${rounds} × ${(perServer / 1000).toFixed(2)} (${pooled.join(" + ")})`] : []),
      ...(onTarget ? [`${(onTarget / 1000).toFixed(2)} (open + ${ON_TARGET}, on each server)`] : []),
    ];
    parts.push(`[${(open / 1000).toFixed(1)} (open) + ${what.join(" + ")}]`);
  }
  return { seconds: baseline.seconds + ms / 1000, roundTrips, detail: `${baseline.seconds.toFixed(2)} (baseline) + ${parts.join(" + ")}` };
}

const ZERO_TARGET_STEPS: Step[] = ["preview (new stack)", "preview (no changes)", "up (from empty)", "refresh"];

export function evaluateTargets(rows: Row[], fits: BenchResult["fits"], pool: number): TargetResult[] {
  const targets: TargetResult[] = [];
  const worst = <T>(list: T[], v: (x: T) => number): T | undefined => [...list].sort((a, b) => v(b) - v(a))[0];
  const ldap = worst(rows, (r) => r.ours.ldapConnectionsPerUrlPerProcess);
  if (ldap) {
    targets.push({
      target: "one LDAP connection per directory per provider process, whatever N",
      met: ldap.ours.ldapConnectionsPerUrlPerProcess <= 1,
      detail: `at most ${ldap.ours.ldapConnectionsPerUrlPerProcess} (worst: N=${ldap.n} ${ldap.mode} ${ldap.step}, ${JSON.stringify(ldap.ours.ldapConnectionsByUrl)} over ${ldap.ours.providerProcesses} process(es))`,
    });
  }
  const ps = worst(rows, (r) => r.ours.psSessionsPerEndpointPerProcess);
  if (ps) {
    targets.push({
      target: `at most exchangeSessions (${pool}) PowerShell sessions per Exchange endpoint per provider process, whatever N`,
      met: ps.ours.psSessionsPerEndpointPerProcess <= pool,
      detail: `at most ${ps.ours.psSessionsPerEndpointPerProcess} (worst: N=${ps.n} ${ps.mode} ${ps.step})`,
    });
  }
  const refreshes = rows.filter((r) => r.step === "refresh");
  if (refreshes.length) {
    const searches = (r: Row) => (r.ours.ldapByOperation.search ?? 0) / Math.max(1, r.ours.providerProcesses);
    const w = worst(refreshes, (r) => searches(r) / r.adResources)!;
    targets.push({
      target: "refresh: no more than one LDAP read per AD resource per pass",
      met: searches(w) <= w.adResources,
      detail: refreshes.filter((r) => r.mode === "zero").map((r) => `N=${r.n}: ${r.ours.ldapByOperation.search ?? 0} searches over ${r.ours.providerProcesses} passes for ${r.adResources} AD resources`).join("; "),
    });
    const reads = (r: Row) => r.ours.psCalls - (r.ours.psCallsByOperation["Connect-EkExchange"] ?? 0);
    const w2 = worst(refreshes, (r) => reads(r) / (r.n * Math.max(1, r.ours.exchangePasses)))!;
    targets.push({
      target: "refresh: one PowerShell round trip per server per pass (Get-EkServerState), besides opening sessions",
      met: reads(w2) <= w2.n * w2.ours.exchangePasses,
      detail: refreshes.filter((r) => r.mode === "zero").map((r) => `N=${r.n}: ${reads(r)} calls over ${r.ours.exchangePasses} passes (${JSON.stringify(r.ours.psCallsByOperation)})`).join("; "),
    });
  }
  for (const n of [50, 200]) {
    for (const step of ZERO_TARGET_STEPS) {
      const r = rows.find((x) => x.mode === "zero" && x.n === n && x.step === step);
      if (!r) continue;
      const q = r.ours.seconds / r.baseline.seconds;
      targets.push({ target: `zero latency: ${step} at N=${n} within 1.15× the no-op baseline`, met: q <= 1.15, detail: `${r.ours.seconds.toFixed(2)} s vs ${r.baseline.seconds.toFixed(2)} s: ${q.toFixed(3)}×` });
    }
  }
  for (const [step, limit] of [["refresh", 1.2], ["up (rotation)", 1.3]] as [Step, number][]) {
    const r = rows.find((x) => x.mode === "realistic" && x.n === 50 && x.step === step);
    if (!r?.floor) continue;
    const q = r.ours.seconds / r.floor.seconds;
    targets.push({ target: `realistic latency: ${step} at N=50 within ${limit}× its floor`, met: q <= limit, detail: `${r.ours.seconds.toFixed(2)} s vs floor ${r.floor.seconds.toFixed(2)} s = ${r.floor.detail}: ${q.toFixed(3)}×; ${r.ours.psCalls} round trips (floor ${r.floor.roundTrips})` });
  }
  for (const f of fits.filter((x) => x.variant === "ours")) {
    const b = fits.find((x) => x.variant === "baseline" && x.mode === f.mode && x.step === f.step);
    targets.push({
      target: `${f.mode} latency, ${f.step}: wall time linear in N (R² ≥ 0.95)`,
      met: f.r2 >= 0.95,
      detail: `ours ${f.intercept.toFixed(2)} s + ${f.secondsPerServer.toFixed(3)} s/server (R² ${f.r2.toFixed(3)})${b ? `; baseline ${b.intercept.toFixed(2)} s + ${b.secondsPerServer.toFixed(3)} s/server (R² ${b.r2.toFixed(3)})` : ""}`,
    });
  }
  const quiet = worst(rows.filter((r) => r.ours.longestQuietSeconds !== undefined), (r) => r.ours.longestQuietSeconds ?? 0);
  if (quiet) {
    targets.push({
      target: "progress: no step shows no resource moving for more than 30 s",
      met: (quiet.ours.longestQuietSeconds ?? 0) <= 30,
      detail: `longest quiet ${quiet.ours.longestQuietSeconds?.toFixed(1)} s (N=${quiet.n} ${quiet.mode} ${quiet.step}, ${quiet.ours.seconds.toFixed(1)} s in all)`,
    });
  }
  return targets;
}

function ratio(ours: number, base: number): string {
  if (base === 0) return ours === 0 ? "=" : "—";
  return `${(ours / base).toFixed(2)}×`;
}

export function markdown(result: BenchResult): string {
  const m = result.machine;
  const lines: string[] = [];
  lines.push(`# Benchmark: ${result.smoke ? "smoke run (N = 1, both latency models)" : "preview, up, refresh, rotation and destroy as sites grow"}`);
  lines.push("");
  lines.push(`Run ${result.startedAt} – ${result.finishedAt} on ${m.nproc} CPU(s) (${m.cpuModel}), load average at start ${m.loadAverageAtStart.map((x) => x.toFixed(2)).join(" ")}, at end ${m.loadAverageAtEnd.map((x) => x.toFixed(2)).join(" ")}; Node ${m.node}, pulumi ${m.pulumi}, local file backend.`);
  const endpoint = result.exchangeEndpoint === "shared"
    ? "one Exchange endpoint for all servers (exchange-kerberos:exchangeEndpoint = EX1)"
    : "no exchangeEndpoint: each server's own /PowerShell endpoint";
  const transport = result.transport === "ssh"
    ? `over ssh: every session one connection of the real OpenSSH client to a Debian sshd on ${result.sshd}, whose remote command is the stand-in (exchangeTransport ssh)`
    : "started on this machine (exchangeTransport process)";
  lines.push(`Directory: a Samba AD DC (lab on ${result.lab}). Exchange: the stand-in, a TEST DOUBLE (test/fixtures/exchange-standin), ${transport}, ${endpoint}, exchangeSessions ${result.sessions}. Its times are a model, not Exchange's: "zero" answers at once; "realistic" (test/fixtures/exchange-standin/latency.ts, each figure's source there) opens a session in ${result.models.realistic.sessionOpenMs} ms, answers a call in ${result.models.realistic.roundTripMs} ms plus ${result.models.realistic.cmdletMs} ms per cmdlet it runs, ±${result.models.realistic.jitter * 100} %, and refuses a user's session beyond ${result.models.realistic.maxSessionsPerUser}.`);
  lines.push("");
  lines.push(`Time: wall time of the pulumi command, as a user runs it (\`up\` and \`refresh\` preview first)${result.repeat > 1 ? `, the median of ${result.repeat} runs of the whole lifecycle on fresh stacks` : ", one run"}. Baseline: the same-shaped stack of no-op dynamic resources (the engine's own cost, no I/O), run beside both. Floor (realistic only): the baseline's time plus, per pass that talks to Exchange, one session open and ceil(N / ${result.sessions}) rounds of the calls each server cannot do without, at the model's cost in that step. PS round trips: operations sent (session opens included), with the floor's count. Quiet: the longest time pulumi's output named no resource (its per-resource status lines).`);
  lines.push("");
  lines.push("| N | model | step | ours (s) | baseline (s) | ratio | floor (s) | ours / floor | PS round trips (floor) | PS sessions (per endpoint per process) | LDAP connections | LDAP operations | quiet (s) |");
  lines.push("|---:|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
  for (const r of result.rows) {
    const o = r.ours;
    const b = r.baseline;
    const floor = r.floor ? `${r.floor.seconds.toFixed(2)} | ${ratio(o.seconds, r.floor.seconds)}` : "— | —";
    lines.push(
      `| ${r.n} | ${r.mode} | ${r.step} | ${o.seconds.toFixed(2)} | ${b.seconds.toFixed(2)} | ${ratio(o.seconds, b.seconds)} | ${floor} | ${o.psCalls}${r.floor ? ` (${r.floor.roundTrips})` : ""} | ${o.psSessions} (${o.psSessionsPerEndpointPerProcess}) | ${o.ldapConnections} | ${o.ldapOperations} | ${o.longestQuietSeconds?.toFixed(1) ?? "—"} |`,
    );
  }
  lines.push("");
  lines.push("## Targets");
  lines.push("");
  for (const t of result.targets) lines.push(`- ${t.met ? "MET" : "MISSED"} — ${t.target}: ${t.detail}`);
  lines.push("");
  return lines.join("\n");
}

function machine(): BenchResult["machine"] {
  const cpu = fs.readFileSync("/proc/cpuinfo", "utf8");
  const pulumi = spawnSync("pulumi", ["version"], { encoding: "utf8" }).stdout.trim();
  return {
    nproc: os.availableParallelism(),
    cpuModel: /^model name\s*:\s*(.*)$/m.exec(cpu)?.[1] ?? "unknown",
    loadAverageAtStart: os.loadavg(),
    loadAverageAtEnd: [],
    node: process.version,
    pulumi,
  };
}

async function main(): Promise<void> {
  const o = parseArgs(process.argv.slice(2));
  const steps = o.smoke ? SMOKE_STEPS : [...STEPS];
  const pool = o.sessions ?? DEFAULT_EXCHANGE_SESSIONS;
  const startedAt = new Date().toISOString();
  const mach = machine();
  const allSizes = [...new Set([...o.sizes.zero, ...o.sizes.realistic])].sort((a, b) => a - b);
  log(`${mach.nproc} CPU(s) ${mach.cpuModel}, load ${mach.loadAverageAtStart.map((x) => x.toFixed(2)).join(" ")}; zero ${o.sizes.zero.join(",")}; realistic ${o.sizes.realistic.join(",")}; repeat ${o.repeat}; lab ${o.lab}`);
  const lab = await startLab(o.lab);
  // The stand-in's state is named per stack in the remote command; sshd's own SetEnv is unused here.
  const sshd = o.transport === "ssh" ? await startSshd(o.sshd, { standinState: path.join(os.tmpdir(), "bench-sshd-unused.json") }) : undefined;
  const rows: Row[] = [];
  const tag = Date.now().toString(36).slice(-5);
  try {
    for (const n of allSizes) {
      const variants: Variant[] = ["baseline", ...MODES.filter((mode) => o.sizes[mode].includes(n))];
      const measured = new Map<Step, Record<Variant, Measure[]>>(steps.map((s) => [s, { baseline: [], zero: [], realistic: [] }]));
      // Each repetition on fresh stacks (and fresh names in AD), the whole lifecycle again.
      for (let r = 0; r < o.repeat; r++) {
        const stacks: Partial<Record<Variant, BenchStack>> = {};
        try {
          for (const v of variants) stacks[v] = await BenchStack.create(v, n, lab, `${tag}n${n}r${r}${v[0]}`, o, sshd);
          for (const step of steps) {
            // Interleaved, step by step, so that a change in the machine's load hits all alike.
            for (const v of variants) {
              const m = await stacks[v]!.run(step);
              measured.get(step)![v].push(m);
              log(`N=${n} #${r + 1} ${step} ${v}: ${m.seconds.toFixed(2)} s, ${m.providerCalls} provider calls, ${m.ldapOperations} LDAP ops, ${m.psCalls} PS calls, ${m.psSessions} sessions, quiet ${m.longestQuietSeconds?.toFixed(1) ?? "-"} s`);
            }
          }
        } finally {
          for (const s of Object.values(stacks)) await s.dispose();
        }
      }
      for (const mode of MODES.filter((x) => variants.includes(x))) {
        for (const step of steps) {
          const m = measured.get(step)!;
          const row: Row = { n, mode, step, resources: 3 * n + 5, adResources: 5, exchangeResources: 3 * n, ours: medianOf(m[mode]), baseline: medianOf(m.baseline) };
          if (mode === "realistic") row.floor = floorOf(step, n, pool, row.ours, row.baseline);
          rows.push(row);
        }
      }
    }
  } finally {
    await sshd?.stop();
    if (sshd) fs.rmSync(sshd.dir, { recursive: true, force: true });
    await stopLab(lab);
  }
  mach.loadAverageAtEnd = os.loadavg();
  const fits: BenchResult["fits"] = [];
  for (const mode of MODES) {
    if (o.sizes[mode].length < 3) continue;
    for (const step of steps) {
      for (const variant of ["ours", "baseline"] as const) {
        const f = fit(rows.filter((r) => r.mode === mode && r.step === step).map((r) => [r.n, r[variant].seconds]));
        fits.push({ mode, step, variant, secondsPerServer: f.slope, intercept: f.intercept, r2: f.r2 });
      }
    }
  }
  const result: BenchResult = {
    smoke: o.smoke,
    startedAt,
    finishedAt: new Date().toISOString(),
    machine: mach,
    lab: o.lab,
    exchangeEndpoint: o.exchangeEndpoint,
    sessions: pool,
    transport: o.transport,
    ...(sshd ? { sshd: `${sshd.addr}:${sshd.port}` } : {}),
    models: { zero: LATENCY_MODELS.zero, realistic: LATENCY_MODELS.realistic },
    repeat: o.repeat,
    sizes: o.sizes,
    steps,
    rows,
    fits,
    targets: evaluateTargets(rows, fits, pool),
  };
  fs.mkdirSync(o.out, { recursive: true });
  fs.writeFileSync(path.join(o.out, "bench.json"), `${JSON.stringify(result, null, 2)}\n`);
  fs.writeFileSync(path.join(o.out, "bench.md"), markdown(result));
  const panels = MODES.flatMap((mode) =>
    steps.map((step) => ({
      title: `${step}, ${mode}`,
      ours: rows.filter((r) => r.mode === mode && r.step === step).map((r) => [r.n, r.ours.seconds] as [number, number]),
      baseline: rows.filter((r) => r.mode === mode && r.step === step).map((r) => [r.n, r.baseline.seconds] as [number, number]),
    })),
  ).filter((p) => p.ours.length > 0);
  fs.writeFileSync(path.join(o.out, "bench.svg"), plotSvg("pulumi-exchange-kerberos: wall time against N, zero and realistic Exchange latency", panels, `${mach.nproc} CPU ${mach.cpuModel}, load at start ${mach.loadAverageAtStart[0].toFixed(2)}. Exchange: the stand-in (a TEST DOUBLE) and its latency model`));
  process.stdout.write(markdown(result));
  log(`wrote ${path.join(o.out, "bench.md")}, bench.json, bench.svg`);
}

if (require.main === module) {
  main().catch((e: Error) => {
    process.stderr.write(`bench: ${e.stack ?? e.message}\n`);
    process.exit(1);
  });
}
