// `npx pulumi-exchange-kerberos drift --stack S | --all`: the unattended drift check. For each
// stack it runs `pulumi preview --refresh --expect-no-changes --json` (what was changed by hand, as
// the resources read it) and then the doctor (whether Kerberos works), and reports one finding per
// thing: the resource, what changed (declared → found) and the doctor's codes about it; doctor
// failures no drift explains are findings of their own. It never changes anything: preview writes
// no state (the refresh it runs is kept in memory), the doctor only reads.
//
// The doctor runs as its own process (`… doctor --stack S --json`, the same command an admin runs),
// so the drift check reads a stack exactly as the doctor does, through the pulumi CLI, and works
// with any backend the CLI can reach (PULUMI_BACKEND_URL). Exit code: 0 no drift and Kerberos
// works; 1 drift, or Kerberos broken; 2 the check could not run (for any stack).
import { spawn } from "node:child_process";
import * as path from "node:path";
import { redact } from "../secrets";
import type { DoctorFinding, DoctorReport } from "../doctor/report";
import { driftFromPreview, PreviewDiagnostic, previewFailures, PreviewStep } from "./preview";
import { readArgs } from "../cli-args";

export const DRIFT_USAGE = `usage: pulumi-exchange-kerberos drift (--stack NAME | --all) [--cwd DIR] [--json]

Checks whether anything was changed by hand since the last \`pulumi up\`, and whether Kerberos
still works. For each stack: \`pulumi preview --refresh --expect-no-changes --json\` (reads AD and
the Exchange servers, changes nothing, writes no state), then the doctor. One line per finding:
the stack, the resource, what changed (declared → found) and the doctor's codes about it.
Secrets are never printed: a changed password shows as "changed". Repair with \`pulumi up --refresh\`.

  --stack NAME, -s NAME   the stack to check (repeatable)
  --all                   every stack of the project in the backend (\`pulumi stack ls\`)
  --cwd DIR, -C DIR       the project folder (default: the current one)
  --json                  the same findings as data
  --help                  this text

The backend and secrets come from the environment, as for any pulumi command:
PULUMI_BACKEND_URL (file://, s3://, gs://, azblob://, postgres://…), PULUMI_CONFIG_PASSPHRASE or
your secrets provider's own variables; EXCHANGE_KERBEROS_* as for doctor.
A difference the doctor finds pending (written to the DC, not yet replicated or polled: doctor
exit code 3) is not drift: the stack reads "pending" with when to look again, exit code 0.
exit code: 0 no drift and Kerberos works (or only replication pending), 1 drift or Kerberos broken,
2 the check could not run`;

export interface DriftFinding {
  stack: string;
  /** The resource's name, or for a doctor finding no drift explains, its subject. */
  resource: string;
  /** The resource's type, or `doctor`. */
  type: string;
  /** declared → found (or the doctor's cause). */
  change: string;
  /** The doctor's codes about this (fail and warn), in its order. */
  doctor: string[];
}

export interface StackDrift {
  stack: string;
  /** `ok`: no drift, Kerberos works; `pending`: no drift, and what the last up wrote has not
   * reached every DC or DNS server yet (the doctor's pending findings); `drift`: findings; `error`:
   * the check could not run. */
  status: "ok" | "pending" | "drift" | "error";
  /** pending: the doctor's pending codes, and when to look again. */
  pending?: string[];
  retryAfterSeconds?: number;
  findings: DriftFinding[];
  /** Why the check could not run (status error). */
  error?: string;
  doctorOk?: boolean;
}

export interface DriftReport {
  ok: boolean;
  checkedAt: string;
  stacks: StackDrift[];
}

class DriftUsageError extends Error {}

interface Args {
  stacks: string[];
  all: boolean;
  cwd?: string;
  json: boolean;
}

export function parseDriftArgs(argv: string[]): Args {
  const a: Args = { stacks: [], all: false, json: false };
  for (const { arg, flag, value: next } of readArgs(argv, (flag) => new DriftUsageError(`${flag} needs a value`))) {
    const value = (): string => {
      const v = next();
      if (v === "") throw new DriftUsageError(`${flag} needs a value`);
      return v;
    };
    if (flag === "--json") a.json = true;
    else if (flag === "--all") a.all = true;
    else if (flag === "--stack" || flag === "-s") a.stacks.push(value());
    else if (flag === "--cwd" || flag === "-C") a.cwd = value();
    else throw new DriftUsageError(`unknown argument ${arg}`);
  }
  if (a.all === (a.stacks.length > 0)) throw new DriftUsageError("give --stack NAME or --all (one of them)");
  return a;
}

interface Ran {
  code: number;
  stdout: string;
  stderr: string;
}

function runProcess(cmd: string, args: string[], cwd: string | undefined): Promise<Ran> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { cwd, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (d: string) => (stdout += d));
    child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d));
    child.on("error", (e: NodeJS.ErrnoException) => resolve({ code: -1, stdout, stderr: e.code === "ENOENT" ? `${cmd} is not on PATH` : e.message }));
    child.on("close", (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

const pulumi = (args: string[], cwd: string | undefined): Promise<Ran> => runProcess("pulumi", [...args, "--non-interactive", "--color", "never"], cwd);

/** The last `error:` line of a pulumi run (or its last line), secrets redacted. */
function lastError(r: Ran): string {
  const lines = `${r.stderr}\n${r.stdout}`.split("\n").map((l) => l.trim()).filter(Boolean);
  const err = lines.filter((l) => /^error:/i.test(l) && !/no changes were expected/.test(l)).pop() ?? lines.pop() ?? `exit code ${r.code}`;
  return redact(err);
}

/** Every stack of the project in the backend. */
async function allStacks(cwd: string | undefined): Promise<string[]> {
  const r = await pulumi(["stack", "ls", "--json"], cwd);
  if (r.code !== 0) throw new Error(`pulumi stack ls failed: ${lastError(r)}`); // not a usage error: no usage text
  const list: unknown = JSON.parse(r.stdout);
  if (!Array.isArray(list)) throw new DriftUsageError("pulumi stack ls --json gave no list");
  return list.map((s: { name?: unknown }) => String(s.name ?? "")).filter((n) => n !== "");
}

/** Which doctor checks (and whose subjects) speak about a resource of this type. */
const CHECKS_OF: Record<string, DoctorFinding["check"][]> = {
  DnsRecord: ["dns"],
  Spn: ["spn", "ticket", "decrypt"],
  AsaComputerAccount: ["asa", "ticket", "decrypt", "binding"],
  AsaPassword: ["decrypt", "binding"],
  AsaBinding: ["binding"],
  ExchangeVirtualDirectoryUrls: ["negotiate"],
  OutlookAnywhereAuth: ["negotiate"],
};

/** Does this doctor finding speak about this drift (same kind of check, same server or SPN)? */
function relates(f: DoctorFinding, type: string, resource: string, change: string): boolean {
  if (!(CHECKS_OF[type] ?? []).includes(f.check)) return false;
  const subject = f.subject.toLowerCase();
  if (type === "Spn") return resource.toLowerCase().endsWith(subject.replace(/^http\//, "")) || change.toLowerCase().includes(subject);
  if (f.check === "binding" || f.check === "negotiate") return resource.toLowerCase().endsWith(`-${subject}`) || change.toLowerCase().startsWith(`${subject} `) || type === "AsaComputerAccount" || type === "AsaPassword";
  return true;
}

/** Within a resource that drifted in several ways, the codes that speak about one line of it. */
const LINE_CODES: [RegExp, string[]][] = [
  [/msDS-SupportedEncryptionTypes/, ["ASA_NO_AES", "ASA_RC4_ALLOWED", "RC4_TICKET", "TICKET_NO_COMMON_ETYPE"]],
  [/^account: enabled → disabled/, ["ASA_DISABLED", "TICKET_SPN_UNKNOWN"]],
  [/internalClientAuthenticationMethod|externalClientAuthenticationMethod/, ["OA_CLIENT_AUTH_NOT_NEGOTIATE"]],
  [/outlookAnywhere\.iisAuthenticationMethods/, ["OA_IIS_NO_NEGOTIATE"]],
  [/mapi\.iisAuthenticationMethods/, ["MAPI_NO_NEGOTIATE"]],
];

function narrow(change: string, codes: string[]): string[] {
  for (const [re, preferred] of LINE_CODES) {
    if (!re.test(change)) continue;
    const hit = codes.filter((c) => preferred.includes(c));
    if (hit.length > 0) return hit;
  }
  return codes;
}

function doctorProcess(cwd: string | undefined, stack: string): Promise<Ran> {
  const cli = path.join(__dirname, "..", "cli.js");
  return runProcess(process.execPath, [cli, "doctor", "--stack", stack, "--json", ...(cwd ? ["--cwd", cwd] : [])], cwd);
}

/** The drift check of one stack. */
export async function checkStack(stack: string, cwd: string | undefined): Promise<StackDrift> {
  const preview = await pulumi(["preview", "--refresh", "--expect-no-changes", "--json", "--stack", stack], cwd);
  let steps: PreviewStep[];
  let diagnostics: PreviewDiagnostic[];
  try {
    const parsed = JSON.parse(preview.stdout) as { steps?: PreviewStep[]; diagnostics?: PreviewDiagnostic[] };
    steps = parsed.steps ?? [];
    diagnostics = parsed.diagnostics ?? [];
  } catch {
    return { stack, status: "error", findings: [], error: `pulumi preview --refresh failed: ${lastError(preview)}` };
  }
  const changes = driftFromPreview(steps);
  // preview exits non-zero both for "changes were proposed" and for a failure (a DC unreachable):
  // only the first is drift. With --json a resource that could not be read is reported in the
  // digest's diagnostics (stderr stays empty), so those are read first: the check could not run,
  // whatever else was planned (the refresh it rests on is incomplete).
  const failures = preview.code !== 0 ? previewFailures(diagnostics) : [];
  if (failures.length > 0) {
    const findings = changes.map((c) => ({ stack, resource: c.resource, type: c.type, change: redact(c.change), doctor: [] }));
    return { stack, status: "error", findings, error: `pulumi preview --refresh failed: ${redact(failures[0].replace(/\s*\n\s*/g, " "))}` };
  }
  const failed = preview.code !== 0 && /error:/.test(preview.stderr.replace(/error: no changes were expected[^\n]*/g, ""));
  if (failed && changes.length === 0) return { stack, status: "error", findings: [], error: `pulumi preview --refresh failed: ${lastError(preview)}` };

  const doc = await doctorProcess(cwd, stack);
  let report: DoctorReport;
  try {
    report = JSON.parse(doc.stdout) as DoctorReport;
  } catch {
    return { stack, status: "error", findings: [], error: `the doctor could not run: ${redact(doc.stderr.trim().split("\n").pop() ?? `exit code ${doc.code}`)}` };
  }
  const problems = report.findings.filter((f) => f.status === "fail" || f.status === "warn" || (f.status === "skip" && f.code === "NOT_CHECKED"));
  const used = new Set<DoctorFinding>();
  const findings: DriftFinding[] = changes.map((c) => {
    const rel = problems.filter((f) => relates(f, c.type, c.resource, c.change));
    rel.forEach((f) => used.add(f));
    return { stack, resource: c.resource, type: c.type, change: redact(c.change), doctor: narrow(c.change, [...new Set(rel.map((f) => f.code))]) };
  });
  for (const f of problems) {
    if (used.has(f) || f.status === "warn") continue; // a warning no drift explains is not drift
    findings.push({ stack, resource: f.subject, type: "doctor", change: redact(f.cause), doctor: [f.code] });
  }
  if (findings.length === 0 && !report.ok && report.retryAfterSeconds !== undefined) {
    const pending = [...new Set(report.findings.filter((f) => f.status === "pending").map((f) => f.code))];
    return { stack, status: "pending", findings, doctorOk: false, pending, retryAfterSeconds: report.retryAfterSeconds };
  }
  return { stack, status: findings.length === 0 && report.ok ? "ok" : "drift", findings, doctorOk: report.ok };
}

export function formatDrift(r: DriftReport): string {
  const lines: string[] = [];
  for (const s of r.stacks) {
    if (s.status === "error") lines.push(`${s.stack}: COULD NOT CHECK: ${s.error ?? "unknown"}`);
    else if (s.status === "ok") lines.push(`${s.stack}: no drift, Kerberos works`);
    else if (s.status === "pending") lines.push(`${s.stack}: no drift; what the last up wrote is still replicating [${(s.pending ?? []).join(", ")}]: check again in ${s.retryAfterSeconds} s`);
    for (const f of s.findings) {
      lines.push(`${s.stack}: DRIFT ${f.resource} (${f.type}): ${f.change}${f.doctor.length ? ` [${f.doctor.join(", ")}]` : ""}`);
    }
    if (s.status === "drift") lines.push(`${s.stack}: ${s.findings.length} finding(s)${s.doctorOk === false ? ", Kerberos will NOT work" : ""}; repair: pulumi up --refresh --stack ${s.stack}`);
  }
  return lines.join("\n");
}

/** The command; resolves to its exit code. */
export async function driftCommand(argv: string[], out: (s: string) => void = (s) => process.stdout.write(s), err: (s: string) => void = (s) => process.stderr.write(s)): Promise<number> {
  if (argv.includes("--help") || argv.includes("-h")) {
    out(`${DRIFT_USAGE}\n`);
    return 0;
  }
  try {
    const a = parseDriftArgs(argv);
    const stacks = a.all ? await allStacks(a.cwd) : a.stacks;
    if (stacks.length === 0) throw new DriftUsageError("the backend holds no stack of this project");
    const report: DriftReport = { ok: true, checkedAt: new Date().toISOString(), stacks: [] };
    for (const s of stacks) report.stacks.push(await checkStack(s, a.cwd));
    report.ok = report.stacks.every((s) => s.status === "ok" || s.status === "pending");
    out(`${a.json ? JSON.stringify(report, null, 2) : formatDrift(report)}\n`);
    if (report.stacks.some((s) => s.status === "error")) return 2;
    return report.ok ? 0 : 1;
  } catch (e) {
    err(`pulumi-exchange-kerberos drift: ${redact(e instanceof Error ? e.message : String(e))}\n${e instanceof DriftUsageError ? `${DRIFT_USAGE}\n` : ""}`);
    return 2;
  }
}
