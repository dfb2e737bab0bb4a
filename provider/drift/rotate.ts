// `npx pulumi-exchange-kerberos rotate --stack S | --all`: the unattended rotation job
// (docs/guides/unattended-rotation.md). For each stack, the drift check first; then `pulumi up` only when
// the drift check reports nothing but the ASA password's due rotation (or one under way that a
// killed run left); then the doctor, which must pass. Anything else is refused and left to a person:
// the job never repairs other drift. `up` runs as a user runs it (it previews again, and the ASA's
// check decides the rotation again from AD: asa-password-rotation.ts).
//
// A run killed in the middle (the machine, the CI job, a timeout) leaves the stack's lock, and the
// operation it was in pending in state. Every binding holds AD's current password beside the new
// one, so no server is stranded; the next run finishes the job. It removes a lock only when the
// lock names this host and a process that no longer runs here (so nobody else holds it), clears the
// pending operations with `pulumi refresh` (which reads the site and changes nothing there), and
// starts again from the drift check. Any other lock: refused, as busy.
import * as os from "node:os";
import * as path from "node:path";
import { redact } from "../secrets";
import { checkStack, DRIFT_EXIT, formatDrift, onlyRotationDue, parseDriftArgs, Ran, runProcess, StackDrift } from "./index";

export const ROTATE_USAGE = `usage: pulumi-exchange-kerberos rotate (--stack NAME | --all) [--cwd DIR]

The unattended rotation of the ASA's password (exchange-kerberos:asaPasswordMaxAgeDays). For each
stack: the drift check; \`pulumi up --yes\` only when it reports nothing but the password's due
rotation (or one a killed run left under way); then the doctor. Any other drift, a password given
to the stack (it is never replaced), a busy stack or a checkout behind the site: refused, nothing
changed. A lock this job left on this host when it was killed is removed (pulumi cancel) and its
pending operations cleared (pulumi refresh) first.

  --stack NAME, -s NAME   the stack (repeatable)
  --all                   every stack of the project in the backend
  --cwd DIR, -C DIR       the project folder (default: the current one)

exit code: 0 nothing due, or rotated and the doctor passes; 1 refused (drift other than the due
rotation, or a given password is due); 2 the check could not run; 3 busy; 4 checkout behind;
5 the rotation or the doctor after it failed`;

export const ROTATE_EXIT = { ...DRIFT_EXIT, refused: 1, failed: 5 } as const;

const run = runProcess;

const pulumi = (args: string[], cwd: string | undefined): Promise<Ran> => run("pulumi", [...args, "--non-interactive", "--color", "never"], cwd);

const lastLine = (r: Ran): string => redact(`${r.stderr}\n${r.stdout}`.split("\n").map((l) => l.trim()).filter(Boolean).filter((l) => /error/i.test(l)).pop() ?? `exit code ${r.code}`);

/** Whether a busy stack is held only by a lock a dead process of this host left (a killed run). */
export function leftByDeadProcess(busy: string, host = os.hostname(), alive: (pid: number) => boolean = processAlive): boolean {
  const holders = [...busy.matchAll(/(\S+)@(\S+) \(pid (\d+)\)/g)];
  if (!/^the stack is locked by /.test(busy) || holders.length === 0) return false;
  return holders.every(([, , h, pid]) => h === host && !alive(Number(pid)));
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** One stack: the drift check, then what the job may do about it. Lines go to `say`. */
async function rotateStack(stack: string, cwd: string | undefined, say: (line: string) => void): Promise<number> {
  let s: StackDrift = await checkStack(stack, cwd);
  if (s.status === "busy" && s.busy && leftByDeadProcess(s.busy)) {
    say(`${stack}: a killed run left the stack's lock (${s.busy.replace(/^the stack is locked by /, "").replace(/: an operation is running.*$/, "")}): removing it (pulumi cancel), then pulumi refresh clears its pending operations`);
    const cancel = await pulumi(["cancel", "--yes", "--stack", stack], cwd);
    if (cancel.code !== 0) return fail(say, stack, `pulumi cancel failed: ${lastLine(cancel)}`, ROTATE_EXIT.error);
    s = await checkStack(stack, cwd);
  }
  if (s.status === "busy" && s.busy && /^the stack has pending operations/.test(s.busy)) {
    const refresh = await pulumi(["refresh", "--yes", "--stack", stack], cwd);
    if (refresh.code !== 0) return fail(say, stack, `pulumi refresh failed: ${lastLine(refresh)}`, ROTATE_EXIT.error);
    s = await checkStack(stack, cwd);
  }
  say(formatDrift({ ok: s.status === "ok", checkedAt: "", stacks: [s] }));
  // Pending: nothing drifted and nothing is due; what the last up wrote is still replicating.
  if (s.status === "ok" || s.status === "pending") return ROTATE_EXIT.ok;
  if (s.status !== "drift") return ROTATE_EXIT[s.status];
  if (!onlyRotationDue(s)) {
    say(`${stack}: REFUSED: the drift check reports more than the due rotation; this job repairs nothing else. Look at the findings above (pulumi preview --refresh --stack ${stack}) and repair by hand`);
    return ROTATE_EXIT.refused;
  }
  say(`${stack}: rotating the ASA's password: pulumi up --yes --stack ${stack}`);
  const up = await pulumi(["up", "--yes", "--stack", stack], cwd);
  if (up.code !== 0) return fail(say, stack, `pulumi up failed: ${lastLine(up)}; every server still holds AD's current password, and the next run finishes the rotation`, ROTATE_EXIT.failed);
  const doctor = await run(process.execPath, [path.join(__dirname, "..", "cli.js"), "doctor", "--stack", stack, ...(cwd ? ["--cwd", cwd] : [])], cwd);
  const verdict = doctor.stdout.trim().split("\n").pop() ?? "";
  if (doctor.code !== 0) {
    say(redact(doctor.stdout.trim()));
    return fail(say, stack, `the doctor fails after the rotation (${redact(verdict)})`, ROTATE_EXIT.failed);
  }
  say(`${stack}: rotated; doctor: ${redact(verdict)}`);
  return ROTATE_EXIT.ok;
}

function fail(say: (line: string) => void, stack: string, why: string, code: number): number {
  say(`${stack}: FAILED: ${why}`);
  return code;
}

/** The command; resolves to its exit code (the first of could not run, busy, behind, failed, refused). */
export async function rotateCommand(argv: string[], out: (s: string) => void = (s) => process.stdout.write(s), err: (s: string) => void = (s) => process.stderr.write(s)): Promise<number> {
  if (argv.includes("--help") || argv.includes("-h")) {
    out(`${ROTATE_USAGE}\n`);
    return 0;
  }
  let a: ReturnType<typeof parseDriftArgs>;
  try {
    a = parseDriftArgs(argv);
  } catch (e) {
    err(`pulumi-exchange-kerberos rotate: ${e instanceof Error ? e.message : String(e)}\n${ROTATE_USAGE}\n`);
    return 2;
  }
  const stacks = a.all ? await allStackNames(a.cwd) : a.stacks;
  if (typeof stacks === "string") {
    err(`pulumi-exchange-kerberos rotate: ${stacks}\n`);
    return 2;
  }
  const codes: number[] = [];
  for (const s of stacks) codes.push(await rotateStack(s, a.cwd, (line) => out(`${line}\n`)));
  for (const c of [ROTATE_EXIT.error, ROTATE_EXIT.busy, ROTATE_EXIT.behind, ROTATE_EXIT.failed, ROTATE_EXIT.refused]) if (codes.includes(c)) return c;
  return 0;
}

async function allStackNames(cwd: string | undefined): Promise<string[] | string> {
  const r = await pulumi(["stack", "ls", "--json"], cwd);
  if (r.code !== 0) return `pulumi stack ls failed: ${lastLine(r)}`;
  const names = (JSON.parse(r.stdout) as { name?: string }[]).map((x) => String(x.name ?? "")).filter(Boolean);
  return names.length > 0 ? names : "the backend holds no stack of this project";
}
