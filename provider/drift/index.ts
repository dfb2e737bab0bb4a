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
import { spawn, spawnSync } from "node:child_process";
import * as path from "node:path";
import { redact } from "../secrets";
import type { DoctorFinding, DoctorReport } from "../doctor/report";
import { CheckRefusal, checkRefusals, driftFromPreview, partOfRotation, plannedRotation, PreviewDiagnostic, previewFailures, PreviewStep, refusalChange } from "./preview";
import { readArgs } from "../cli-args";
import { keysBehind, projectName, readConfig, readExport, readLock, StateRead } from "./stack-status";
import { describeDue, PasswordAge } from "../asa-password-age";

export const DRIFT_USAGE = `usage: pulumi-exchange-kerberos drift (--stack NAME | --all) [--cwd DIR] [--json]

Checks whether anything was changed by hand since the last \`pulumi up\`, and whether Kerberos
still works. For each stack: \`pulumi preview --refresh --expect-no-changes --json\` (reads AD and
the Exchange servers, changes nothing, writes no state), then the doctor. One line per finding:
the stack, the resource, what changed (declared → found) and the doctor's codes about it.
Secrets are never printed: a changed password shows as "changed". Repair with \`pulumi up --refresh\`.
A resource the preview refuses (an SPN another account now holds) is a finding with the refusal's
words, and the preview runs again without it (--exclude), so every other resource is still judged.

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
exit code: 0 no drift and Kerberos works (or only replication pending), 1 drift or Kerberos broken
(or the ASA's password is due), 2 the check could not run, 3 the stack is busy (locked, pending
operations, or written while drift read the site: an operation is running), 4 this checkout's site
config differs from the one the last \`pulumi up\` applied (the checkout is behind; nothing was judged)`;

/** Exit codes, by precedence over several stacks: could not run, busy, behind, drift, ok. */
export const DRIFT_EXIT = { ok: 0, drift: 1, error: 2, busy: 3, behind: 4 } as const;

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
  /** `rotation`: the ASA's password is due and the next `pulumi up` rotates it (the rotation job
   * may); `drift`: anything else, for a person to look at. */
  kind: "drift" | "rotation";
}

export interface StackDrift {
  stack: string;
  /** `ok`: no drift, Kerberos works; `pending`: no drift, and what the last up wrote has not
   * reached every DC or DNS server yet (the doctor's pending findings); `drift`: findings (only
   * `rotation` ones: the password is due); `error`: the check could not run; `busy`: an operation
   * holds the stack; `behind`: this checkout's site config is not the one applied. */
  status: "ok" | "pending" | "drift" | "error" | "busy" | "behind";
  /** pending: the doctor's pending codes, and when to look again. */
  pending?: string[];
  retryAfterSeconds?: number;
  findings: DriftFinding[];
  /** Why the check could not run (status error). */
  error?: string;
  /** What holds the stack (status busy). */
  busy?: string;
  /** The site keys this checkout declares otherwise than the last `up` applied (status behind). */
  behind?: { keys: string[]; appliedAt?: string };
  doctorOk?: boolean;
  /** The ASA password's age (the doctor's, from AD's pwdLastSet) when asaPasswordMaxAgeDays is set. */
  asaPassword?: PasswordAge;
  /** A note that does not change the verdict (a backend whose lock cannot be read). */
  note?: string;
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

export interface Ran {
  code: number;
  stdout: string;
  stderr: string;
}

export function runProcess(cmd: string, args: string[], cwd: string | undefined): Promise<Ran> {
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

/** How many refused resources drift plans around before it stops looking for more (each costs one preview). */
const MAX_REFUSED = 8;

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

/** `pulumi stack export --show-secrets` of one stack (kept in memory, never printed). */
async function exportState(stack: string, cwd: string | undefined): Promise<StateRead | string> {
  const r = await pulumi(["stack", "export", "--show-secrets", "--stack", stack], cwd);
  if (r.code !== 0) return lastError(r);
  try {
    return readExport(r.stdout);
  } catch {
    return "pulumi stack export gave no JSON";
  }
}

/** The backend's URL: PULUMI_BACKEND_URL, else the one the CLI is logged in to. */
async function backendUrl(cwd: string | undefined): Promise<string | undefined> {
  if (process.env.PULUMI_BACKEND_URL) return process.env.PULUMI_BACKEND_URL;
  const r = await pulumi(["whoami", "--json"], cwd);
  try {
    return r.code === 0 ? ((JSON.parse(r.stdout) as { url?: string }).url ?? undefined) : undefined;
  } catch {
    return undefined;
  }
}

/** Why the stack is busy now (its lock, its pending operations), or undefined; and a note when the
 * lock cannot be read. */
async function busyNow(stack: string, cwd: string | undefined, state: StateRead): Promise<{ busy?: string; note?: string }> {
  const url = await backendUrl(cwd);
  const project = projectName(cwd);
  const name = stack.split("/").pop() ?? stack;
  const lock = url && project
    ? readLock(url, project, name, () => {
        const r = spawnSyncJson(["stack", "ls", "--json"], cwd) as { name?: string; updateInProgress?: boolean }[] | undefined;
        return r?.find((x) => (x.name ?? "").split("/").pop() === name)?.updateInProgress;
      })
    : { holders: [], unreadable: "the backend URL or the project is unknown" };
  const note = lock.unreadable ? `the stack's lock could not be read (${lock.unreadable}); pending operations and changes during the check are still seen` : undefined;
  if (lock.holders.length > 0) return { busy: `the stack is locked by ${lock.holders.join("; ")}: an operation is running (or was killed: pulumi cancel removes its lock)`, note };
  if (state.pendingOperations.length > 0) {
    const ops = state.pendingOperations.map((p) => `${p.op} ${p.urn.split("::").pop()}`).join(", ");
    return { busy: `the stack has pending operations (${ops}): an operation is running, or one was interrupted (pulumi refresh clears them once it is over)`, note };
  }
  return { note };
}

function spawnSyncJson(args: string[], cwd: string | undefined): unknown {
  const r = spawnSync("pulumi", [...args, "--non-interactive", "--color", "never"], { cwd, encoding: "utf8", timeout: 60_000 });
  try {
    return r.status === 0 ? JSON.parse(r.stdout) : undefined;
  } catch {
    return undefined;
  }
}

/** The drift check of one stack. */
export async function checkStack(stack: string, cwd: string | undefined): Promise<StackDrift> {
  // Before reading the site: is it this checkout's site, and is anyone changing it?
  const before = await exportState(stack, cwd);
  // State that cannot be read: the preview meets the same cause and names it.
  if (typeof before === "string") return judgeStack(stack, cwd);
  const { busy, note } = await busyNow(stack, cwd, before);
  if (busy) return { stack, status: "busy", findings: [], busy, ...(note ? { note } : {}) };
  if (before.applied) {
    const config = await pulumi(["config", "--json", "--show-secrets", "--stack", stack], cwd);
    if (config.code !== 0) return { stack, status: "error", findings: [], error: `pulumi config failed: ${lastError(config)}` };
    const keys = keysBehind(readConfig(config.stdout), before.applied);
    if (keys.length > 0) return { stack, status: "behind", findings: [], behind: { keys, ...(before.appliedAt ? { appliedAt: before.appliedAt } : {}) } };
  }
  const judged = await judgeStack(stack, cwd);
  // Anything written while the site was read makes what was read unreliable (a rotation under way).
  const after = await exportState(stack, cwd);
  if (typeof after !== "string" && (after.fingerprint !== before.fingerprint || after.pendingOperations.length > 0)) {
    const again = await busyNow(stack, cwd, after);
    return { stack, status: "busy", findings: [], busy: again.busy ?? "the stack's state changed while drift read the site: an operation ran meanwhile; run drift again when it is done", ...(note ? { note } : {}) };
  }
  return { ...judged, ...(note ? { note } : {}) };
}

/** The preview and the doctor of one stack, judged. */
async function judgeStack(stack: string, cwd: string | undefined): Promise<StackDrift> {
  // --show-sames: a rotation under way is said by the ASA's step, which plans no change of its own.
  const plan = async (excluded: string[]) => {
    const ran = await pulumi(["preview", "--refresh", "--expect-no-changes", "--json", "--show-sames", "--stack", stack, ...excluded.flatMap((u) => ["--exclude", u])], cwd);
    try {
      const parsed = JSON.parse(ran.stdout) as { steps?: PreviewStep[]; diagnostics?: PreviewDiagnostic[] };
      return { ran, steps: parsed.steps ?? [], diagnostics: parsed.diagnostics ?? [] };
    } catch {
      return { ran, error: `pulumi preview --refresh failed: ${lastError(ran)}` };
    }
  };
  let planned = await plan([]);
  // A resource refused at check stops the plan there: plan again without it, until none is
  // refused (each refusal is a finding of its own), so every other resource is still judged.
  const refused: CheckRefusal[] = [];
  while (!("error" in planned) && planned.ran.code !== 0 && refused.length < MAX_REFUSED) {
    const fresh = checkRefusals(planned.diagnostics).filter((r) => !refused.some((x) => x.urn === r.urn));
    if (fresh.length === 0) break;
    refused.push(...fresh);
    planned = await plan(refused.map((r) => r.urn));
  }
  if ("error" in planned) return { stack, status: "error", findings: [], error: planned.error ?? "" };
  const { ran: preview, steps, diagnostics } = planned;
  const rotation = plannedRotation(steps);
  const all = [...refused.map(refusalChange), ...driftFromPreview(steps)];
  const changes = rotation ? all.filter((c) => !partOfRotation(c)) : all;
  // preview exits non-zero both for "changes were proposed" and for a failure (a DC unreachable):
  // only the first is drift. With --json a resource that could not be read is reported in the
  // digest's diagnostics (stderr stays empty), so those are read first: the check could not run,
  // whatever else was planned (the refresh it rests on is incomplete).
  const failures = preview.code !== 0 ? previewFailures(diagnostics) : [];
  if (failures.length > 0) {
    const findings = changes.map((c) => ({ stack, resource: c.resource, type: c.type, change: redact(c.change), doctor: [], kind: "drift" as const }));
    return { stack, status: "error", findings, error: `pulumi preview --refresh failed: ${redact(failures[0].replace(/\s*\n\s*/g, " "))}` };
  }
  const failed = preview.code !== 0 && /error:/.test(preview.stderr.replace(/error: no changes were expected[^\n]*/g, ""));
  if (failed && changes.length === 0 && !rotation) return { stack, status: "error", findings: [], error: `pulumi preview --refresh failed: ${lastError(preview)}` };

  const doc = await doctorProcess(cwd, stack);
  let report: DoctorReport;
  try {
    report = JSON.parse(doc.stdout) as DoctorReport;
  } catch {
    return { stack, status: "error", findings: [], error: `the doctor could not run: ${redact(doc.stderr.trim().split("\n").pop() ?? `exit ${doc.code}`)}` };
  }
  const problems = report.findings.filter((f) => f.status === "fail" || f.status === "warn" || (f.status === "skip" && f.code === "NOT_CHECKED"));
  const used = new Set<DoctorFinding>();
  const related = (type: string, resource: string, change: string): string[] => {
    const rel = problems.filter((f) => relates(f, type, resource, change));
    rel.forEach((f) => used.add(f));
    return [...new Set(rel.map((f) => f.code))];
  };
  const findings: DriftFinding[] = changes.map((c) => ({ stack, resource: c.resource, type: c.type, change: redact(c.change), doctor: narrow(c.change, related(c.type, c.resource, c.change)), kind: "drift" }));
  if (rotation) {
    const overdue = problems.filter((f) => f.code === "ASA_PASSWORD_OVERDUE");
    overdue.forEach((f) => used.add(f));
    findings.unshift({ stack, resource: rotation.resource, type: "AsaComputerAccount", change: redact(rotation.why), doctor: overdue.length > 0 ? ["ASA_PASSWORD_OVERDUE"] : [], kind: "rotation" });
  }
  for (const f of problems) {
    // A warning no drift explains is not drift, but a password past its maximum age is: a given
    // password is never rotated by up, so a person must act (drift exits 1 for it).
    if (used.has(f) || (f.status === "warn" && f.code !== "ASA_PASSWORD_OVERDUE")) continue;
    findings.push({ stack, resource: f.subject, type: "doctor", change: redact(f.cause), doctor: [f.code], kind: "drift" });
  }
  if (findings.length === 0 && !report.ok && report.retryAfterSeconds !== undefined) {
    const pending = [...new Set(report.findings.filter((f) => f.status === "pending").map((f) => f.code))];
    return { stack, status: "pending", findings, doctorOk: false, pending, retryAfterSeconds: report.retryAfterSeconds };
  }
  return { stack, status: findings.length === 0 && report.ok ? "ok" : "drift", findings, doctorOk: report.ok, ...(report.asaPassword ? { asaPassword: report.asaPassword } : {}) };
}

/** Only the due rotation, nothing else: what the rotation job may act on. */
export function onlyRotationDue(s: StackDrift): boolean {
  return s.status === "drift" && s.doctorOk === true && s.findings.length > 0 && s.findings.every((f) => f.kind === "rotation");
}

export function formatDrift(r: DriftReport): string {
  const lines: string[] = [];
  for (const s of r.stacks) {
    const due = s.asaPassword ? `; the ASA's password is ${describeDue(s.asaPassword)}` : "";
    if (s.status === "error") lines.push(`${s.stack}: COULD NOT CHECK: ${s.error ?? "unknown"}`);
    else if (s.status === "busy") lines.push(`${s.stack}: BUSY, not checked: ${s.busy ?? "an operation is running"}`);
    else if (s.status === "behind") {
      lines.push(`${s.stack}: CHECKOUT BEHIND, not checked: this checkout's config differs from the config the last pulumi up applied${s.behind?.appliedAt ? ` (${s.behind.appliedAt})` : ""} in ${(s.behind?.keys ?? []).join(", ")}: the checkout, not the site, is behind; update it (git pull) and run drift again (a change of yours not applied yet: pulumi up applies it)`);
    } else if (s.status === "ok") lines.push(`${s.stack}: no drift, Kerberos works${due}`);
    else if (s.status === "pending") lines.push(`${s.stack}: no drift; what the last up wrote is still replicating [${(s.pending ?? []).join(", ")}]: check again in ${s.retryAfterSeconds} s`);
    for (const f of s.findings) {
      lines.push(`${s.stack}: ${f.kind === "rotation" ? "DUE" : "DRIFT"} ${f.resource} (${f.type}): ${f.change}${f.doctor.length ? ` [${f.doctor.join(", ")}]` : ""}`);
    }
    if (s.status === "drift" && onlyRotationDue(s)) lines.push(`${s.stack}: the ASA's password is due, nothing else drifted, Kerberos works${due}; rotate: pulumi up --stack ${s.stack} (or the rotation job: pulumi-exchange-kerberos rotate)`);
    else if (s.status === "drift") lines.push(`${s.stack}: ${s.findings.length} finding(s)${s.doctorOk === false ? ", Kerberos will NOT work" : ""}; repair: pulumi up --refresh --stack ${s.stack}`);
    if (s.note && (s.status === "ok" || s.status === "drift")) lines.push(`${s.stack}: note: ${s.note}`);
  }
  return lines.join("\n");
}

/** The exit code of a report: the first of could not run, busy, behind, drift that any stack is. */
export function driftExitCode(report: DriftReport): number {
  for (const status of ["error", "busy", "behind", "drift"] as const) if (report.stacks.some((s) => s.status === status)) return DRIFT_EXIT[status];
  return DRIFT_EXIT.ok;
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
    return driftExitCode(report);
  } catch (e) {
    err(`pulumi-exchange-kerberos drift: ${redact(e instanceof Error ? e.message : String(e))}\n${e instanceof DriftUsageError ? `${DRIFT_USAGE}\n` : ""}`);
    return 2;
  }
}
