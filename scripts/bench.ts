// The benchmark (scripts/bench, npm run bench): what preview, up, refresh and destroy cost as a site
// grows, ours against the engine's own cost. For each N Client Access servers it runs the site
// stack (examples/site through test/fixtures/site-stack) against a lab Samba AD DC and the Exchange
// stand-in — a TEST DOUBLE for Exchange seeded with EX1..EXN — and, step by step beside it, the
// same-shaped stack of no-op dynamic resources (test/fixtures/bench-baseline-stack). Per step:
// wall time, LDAP connections and operations, PowerShell sessions and operations, provider calls,
// from the provider processes' own counters (provider/stats.ts) and, for PowerShell, the stand-in's.
// Writes <out>/bench.md, bench.json and bench.svg.
//
//   scripts/bench [--sizes 1,5,20,50] [--lab 127.0.0.2] [--out bench/out] [--exchange-endpoint shared|per-server]
//     shared (default): exchange-kerberos:exchangeEndpoint names EX1, whose session manages every
//     server; per-server: no exchangeEndpoint, so each server's own /PowerShell is a session.
//   --repeat K: the whole lifecycle K times per N on fresh stacks; times are the medians
//   scripts/bench --smoke          N = 1, three steps: proves the benchmark works (npm test runs it)
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { spawnSync } from "node:child_process";
import { Lab, startLab, stopLab } from "../test/fixtures/lab";
import { CliResult, PulumiCli, REPO_ROOT } from "../test/fixtures/pulumi-cli";
import { readState, seedServers, standinExecutable } from "../test/fixtures/exchange-standin/state";
import { ProviderProcessStats, STATS_FILE_ENV } from "../provider/stats";
import { plotSvg } from "./bench-svg";

export const STEPS = ["preview (new stack)", "up (from empty)", "preview (no changes)", "refresh", "destroy"] as const;
export type Step = (typeof STEPS)[number];
const SMOKE_STEPS: Step[] = ["up (from empty)", "refresh", "destroy"];
const VARIANTS = ["ours", "baseline"] as const;
type Variant = (typeof VARIANTS)[number];

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
  ldapOperations: number;
  ldapByOperation: Record<string, number>;
  psSessions: number;
  psSessionsByEndpoint: Record<string, number>;
  psCalls: number;
  psCallsByOperation: Record<string, number>;
  /** The stand-in's own counters (TEST DOUBLE): sessions it answered, operations it ran. */
  standin?: { sessions: number; calls: number };
}

export interface Row {
  n: number;
  step: Step;
  /** Custom resources in the stack (same in both). */
  resources: number;
  adResources: number;
  exchangeResources: number;
  ours: Measure;
  baseline: Measure;
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
  /** Runs of the whole lifecycle per N; times are the median. */
  repeat: number;
  sizes: number[];
  steps: Step[];
  rows: Row[];
  fits: { step: Step; variant: Variant; secondsPerServer: number; intercept: number; r2: number }[];
  targets: TargetResult[];
}

type EndpointMode = "shared" | "per-server";

interface Options {
  sizes: number[];
  smoke: boolean;
  lab: string;
  out: string;
  exchangeEndpoint: EndpointMode;
  repeat: number;
}

function parseArgs(argv: string[]): Options {
  const o: Options = { sizes: [1, 5, 20, 50], smoke: false, lab: "127.0.0.2", out: path.join(REPO_ROOT, "bench", "out"), exchangeEndpoint: "shared", repeat: 1 };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const value = () => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${a} needs a value`);
      return v;
    };
    if (a === "--smoke") o.smoke = true;
    else if (a === "--sizes") o.sizes = value().split(",").map((s) => Number(s));
    else if (a === "--lab") o.lab = value();
    else if (a === "--out") o.out = path.resolve(value());
    else if (a === "--repeat") o.repeat = Number(value());
    else if (a === "--exchange-endpoint") {
      const v = value();
      if (v !== "shared" && v !== "per-server") throw new Error("--exchange-endpoint: shared or per-server");
      o.exchangeEndpoint = v;
    } else throw new Error(`unknown argument ${a} (use --smoke, --sizes 1,5,20,50, --lab ADDR, --out DIR, --exchange-endpoint shared|per-server, --repeat K)`);
  }
  if (o.smoke) o.sizes = [1];
  if (!Number.isInteger(o.repeat) || o.repeat < 1) throw new Error("--repeat: a whole number from 1");
  if (o.sizes.some((n) => !Number.isInteger(n) || n < 1 || n > 99)) throw new Error("--sizes: whole numbers from 1 to 99");
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
    ldapOperations: sum(procs.map((p) => p.ldap.operations)),
    ldapByOperation: {},
    psSessions: sum(procs.map((p) => p.exchange.sessionsStarted)),
    psSessionsByEndpoint: {},
    psCalls: sum(procs.map((p) => p.exchange.calls)),
    psCallsByOperation: {},
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

function log(line: string): void {
  process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${line}\n`);
}

/** One stack of one variant at one N: a throwaway CLI folder, configured like an admin would. */
class BenchStack {
  private constructor(
    readonly variant: Variant,
    readonly cli: PulumiCli,
    readonly statsDir: string,
    readonly standinState: string | undefined,
  ) {}

  static async create(variant: Variant, n: number, lab: Lab, tag: string, endpoint: EndpointMode): Promise<BenchStack> {
    const statsDir = fs.mkdtempSync(path.join(os.tmpdir(), `bench-stats-${variant}-`));
    let standinState: string | undefined;
    const servers = Array.from({ length: n }, (_, i) => `EX${i + 1}`);
    const env: Record<string, string> = {};
    if (variant === "ours") {
      standinState = path.join(statsDir, "standin-state.json");
      seedServers(standinState, servers.map((name) => ({ name, version: "2019" as const })));
      env.EXCHANGE_STANDIN_STATE = standinState;
    }
    const project = variant === "ours" ? "test/fixtures/site-stack" : "test/fixtures/bench-baseline-stack";
    const cli = await PulumiCli.create({ project, env, timeoutMs: 1_800_000 });
    await cli.selectStack(`bench-n${n}`);
    // The same config in both: the baseline reads the site keys and ignores the connection keys.
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
    if (endpoint === "shared") values["exchange-kerberos:exchangeEndpoint"] = `ex1.${lab.domain}`;
    await cli.setAllConfig(values);
    return new BenchStack(variant, cli, statsDir, standinState);
  }

  private standinCounters(): { sessions: number; calls: number } | undefined {
    if (!this.standinState) return undefined;
    const c = readState(this.standinState).counters;
    return { sessions: c.sessions, calls: c.calls };
  }

  async run(step: Step): Promise<Measure> {
    const prefix = path.join(this.statsDir, step.replace(/[^a-z]+/g, "-"));
    const env = { [STATS_FILE_ENV]: prefix };
    const before = this.standinCounters();
    const t0 = process.hrtime.bigint();
    const commands: Record<Step, () => Promise<CliResult>> = {
      "preview (new stack)": () => this.cli.preview([], { env }),
      "up (from empty)": () => this.cli.up([], { env }),
      "preview (no changes)": () => this.cli.preview(["--expect-no-changes"], { env }),
      refresh: () => this.cli.refresh([], { env }),
      destroy: () => this.cli.destroy([], { env }),
    };
    await commands[step]();
    const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
    const m = readMeasure(prefix, seconds);
    const after = this.standinCounters();
    if (before && after) m.standin = { sessions: after.sessions - before.sessions, calls: after.calls - before.calls };
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
function fit(points: [number, number][]): { slope: number; intercept: number; r2: number } {
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

export function evaluateTargets(rows: Row[], fits: BenchResult["fits"]): TargetResult[] {
  const targets: TargetResult[] = [];
  const runs = rows.filter((r) => r.ours.providerCalls > 0);
  const worstLdap = runs.map((r) => ({ r, v: maxValue(r.ours.ldapConnectionsByUrl) })).sort((a, b) => b.v - a.v)[0];
  const worstPs = runs.map((r) => ({ r, v: maxValue(r.ours.psSessionsByEndpoint) })).sort((a, b) => b.v - a.v)[0];
  if (worstLdap) {
    targets.push({
      target: "one LDAP connection per directory per run, whatever N",
      met: worstLdap.v <= 1,
      detail: `at most ${worstLdap.v} connection(s) to one directory URL in one run (worst: N=${worstLdap.r.n} ${worstLdap.r.step}, ${JSON.stringify(worstLdap.r.ours.ldapConnectionsByUrl)} over ${worstLdap.r.ours.providerProcesses} provider process(es))`,
    });
  }
  if (worstPs) {
    targets.push({
      target: "one PowerShell session per Exchange endpoint per run, whatever N",
      met: worstPs.v <= 1,
      detail: `at most ${worstPs.v} session(s) to one endpoint in one run (worst: N=${worstPs.r.n} ${worstPs.r.step}, ${worstPs.r.ours.psSessions} session(s) over ${worstPs.r.ours.providerProcesses} provider process(es))`,
    });
  }
  const refreshes = rows.filter((r) => r.step === "refresh");
  if (refreshes.length) {
    const ldapReads = refreshes.map((r) => ({ r, perResource: (r.ours.ldapByOperation.search ?? 0) / r.adResources }));
    const worst = ldapReads.sort((a, b) => b.perResource - a.perResource)[0];
    targets.push({
      target: "refresh: no more than one LDAP read per AD resource",
      met: worst.perResource <= 1,
      detail: refreshes.map((r) => `N=${r.n}: ${r.ours.ldapByOperation.search ?? 0} searches for ${r.adResources} AD resources`).join("; "),
    });
    const psPer = refreshes.map((r) => ({ r, calls: r.ours.psCalls - (r.ours.psCallsByOperation["Connect-EkExchange"] ?? 0) }));
    const worstPs2 = psPer.sort((a, b) => b.calls / b.r.exchangeResources - a.calls / a.r.exchangeResources)[0];
    targets.push({
      target: "refresh: one operation call per Exchange resource",
      met: worstPs2.calls <= worstPs2.r.exchangeResources,
      detail: refreshes.map((r) => `N=${r.n}: ${r.ours.psCalls - (r.ours.psCallsByOperation["Connect-EkExchange"] ?? 0)} calls besides Connect-EkExchange for ${r.exchangeResources} Exchange resources (${JSON.stringify(r.ours.psCallsByOperation)})`).join("; "),
    });
  }
  const nMax = Math.max(...rows.map((r) => r.n));
  for (const step of ["preview (new stack)", "preview (no changes)", "refresh"] as Step[]) {
    const r = rows.find((x) => x.n === nMax && x.step === step);
    if (!r) continue;
    const ratio = r.ours.seconds / r.baseline.seconds;
    targets.push({ target: `${step} at N=${nMax} within 1.3× the no-op baseline`, met: ratio <= 1.3, detail: `${r.ours.seconds.toFixed(2)} s vs ${r.baseline.seconds.toFixed(2)} s: ${ratio.toFixed(3)}×` });
  }
  for (const f of fits.filter((x) => x.variant === "ours")) {
    const base = fits.find((x) => x.variant === "baseline" && x.step === f.step);
    targets.push({
      target: `${f.step}: time grows linearly with N`,
      met: f.r2 >= 0.95,
      detail: `ours ${f.intercept.toFixed(2)} s + ${f.secondsPerServer.toFixed(3)} s/server (R² ${f.r2.toFixed(3)})` + (base ? `; baseline ${base.intercept.toFixed(2)} s + ${base.secondsPerServer.toFixed(3)} s/server (R² ${base.r2.toFixed(3)})` : ""),
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
  lines.push(`# Benchmark: ${result.smoke ? "smoke run (N = 1)" : "preview, up, refresh and destroy as sites grow"}`);
  lines.push("");
  lines.push(`Run ${result.startedAt} – ${result.finishedAt} on ${m.nproc} CPU(s) (${m.cpuModel}), load average at start ${m.loadAverageAtStart.map((x) => x.toFixed(2)).join(" ")}, at end ${m.loadAverageAtEnd.map((x) => x.toFixed(2)).join(" ")}; Node ${m.node}, pulumi ${m.pulumi}, local file backend.`);
  const endpoint = result.exchangeEndpoint === "shared"
    ? "one Exchange endpoint for all servers (exchange-kerberos:exchangeEndpoint = EX1)"
    : "no exchangeEndpoint: each server's own /PowerShell endpoint, so one session per server";
  lines.push(`Directory: a Samba AD DC (lab on ${result.lab}). Exchange: the stand-in, a TEST DOUBLE (test/fixtures/exchange-standin), ${endpoint} — the PowerShell figures count our sessions and operations against it; its times are not Exchange's (a real remote session takes seconds to open, each cmdlet far longer than the stand-in's).`);
  lines.push("");
  lines.push(`Time: wall time of the pulumi command (ours, baseline, ratio)${result.repeat > 1 ? `, the median of ${result.repeat} runs of the whole lifecycle on fresh stacks` : ", one run"}. LDAP and PowerShell: counted in our provider processes (provider/stats.ts); “stand-in” is the stand-in's own count of the same (sessions/calls). Per resource: divided by the stack's custom resources. Baseline: the same-shaped stack of no-op dynamic resources (0 LDAP, 0 PowerShell by construction).`);
  lines.push("");
  lines.push("| N | resources | step | time ours (s) | time baseline (s) | ratio | provider processes (ours/base) | provider calls (ours/base) | LDAP connections | LDAP operations (per resource) | PS sessions (stand-in) | PS operations (per resource) (stand-in) |");
  lines.push("|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
  for (const r of result.rows) {
    const o = r.ours;
    const b = r.baseline;
    lines.push(
      `| ${r.n} | ${r.resources} | ${r.step} | ${o.seconds.toFixed(2)} | ${b.seconds.toFixed(2)} | ${ratio(o.seconds, b.seconds)} | ${o.providerProcesses}/${b.providerProcesses} | ${o.providerCalls}/${b.providerCalls} (${ratio(o.providerCalls, b.providerCalls)}) | ${o.ldapConnections} | ${o.ldapOperations} (${(o.ldapOperations / r.resources).toFixed(2)}) | ${o.psSessions} (${o.standin?.sessions ?? "—"}) | ${o.psCalls} (${(o.psCalls / r.resources).toFixed(2)}) (${o.standin?.calls ?? "—"}) |`,
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
  const startedAt = new Date().toISOString();
  const mach = machine();
  log(`${mach.nproc} CPU(s) ${mach.cpuModel}, load ${mach.loadAverageAtStart.map((x) => x.toFixed(2)).join(" ")}; sizes ${o.sizes.join(", ")}; lab ${o.lab}`);
  const lab = await startLab(o.lab);
  const rows: Row[] = [];
  const tag = Date.now().toString(36).slice(-5);
  try {
    for (const n of o.sizes) {
      const measured = new Map<Step, Record<Variant, Measure[]>>(steps.map((s) => [s, { ours: [], baseline: [] }]));
      // Each repetition on fresh stacks (and fresh names in AD), the whole lifecycle again.
      for (let r = 0; r < o.repeat; r++) {
        const stacks = {} as Record<Variant, BenchStack>;
        try {
          for (const v of VARIANTS) stacks[v] = await BenchStack.create(v, n, lab, `${tag}n${n}r${r}`, o.exchangeEndpoint);
          for (const step of steps) {
            // Interleaved, step by step, so that a change in the machine's load hits both alike.
            for (const v of VARIANTS) {
              const m = await stacks[v].run(step);
              measured.get(step)![v].push(m);
              log(`N=${n} #${r + 1} ${step} ${v}: ${m.seconds.toFixed(2)} s, ${m.providerCalls} provider calls, ${m.ldapOperations} LDAP ops, ${m.psCalls} PS calls`);
            }
          }
        } finally {
          for (const s of Object.values(stacks)) await s.dispose();
        }
      }
      for (const step of steps) {
        const m = measured.get(step)!;
        rows.push({ n, step, resources: 3 * n + 5, adResources: 5, exchangeResources: 3 * n, ours: medianOf(m.ours), baseline: medianOf(m.baseline) });
      }
    }
  } finally {
    await stopLab(lab);
  }
  mach.loadAverageAtEnd = os.loadavg();
  const fits: BenchResult["fits"] = [];
  if (o.sizes.length > 1) {
    for (const step of steps) {
      for (const variant of VARIANTS) {
        const f = fit(rows.filter((r) => r.step === step).map((r) => [r.n, r[variant].seconds]));
        fits.push({ step, variant, secondsPerServer: f.slope, intercept: f.intercept, r2: f.r2 });
      }
    }
  }
  const result: BenchResult = { smoke: o.smoke, startedAt, finishedAt: new Date().toISOString(), machine: mach, lab: o.lab, exchangeEndpoint: o.exchangeEndpoint, repeat: o.repeat, sizes: o.sizes, steps, rows, fits, targets: evaluateTargets(rows, fits) };
  fs.mkdirSync(o.out, { recursive: true });
  fs.writeFileSync(path.join(o.out, "bench.json"), `${JSON.stringify(result, null, 2)}\n`);
  fs.writeFileSync(path.join(o.out, "bench.md"), markdown(result));
  const panels = steps.map((step) => ({
    title: step,
    ours: rows.filter((r) => r.step === step).map((r) => [r.n, r.ours.seconds] as [number, number]),
    baseline: rows.filter((r) => r.step === step).map((r) => [r.n, r.baseline.seconds] as [number, number]),
  }));
  fs.writeFileSync(path.join(o.out, "bench.svg"), plotSvg("pulumi-exchange-kerberos: wall time against N", panels, `${mach.nproc} CPU ${mach.cpuModel}, load at start ${mach.loadAverageAtStart[0].toFixed(2)}. Exchange: the stand-in (a TEST DOUBLE)`));
  process.stdout.write(markdown(result));
  log(`wrote ${path.join(o.out, "bench.md")}, bench.json, bench.svg`);
}

if (require.main === module) {
  main().catch((e: Error) => {
    process.stderr.write(`bench: ${e.stack ?? e.message}\n`);
    process.exit(1);
  });
}
