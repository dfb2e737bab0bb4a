// Connection settings from the stack's CURRENT config on refresh and destroy.
//
// `pulumi refresh` and `pulumi destroy` do not run the program (unless --run-program), so the
// engine configures the dynamic provider with the config recorded in state at the last `up`: a
// changed exchangeEndpoint, LDAP URL or password would be ignored, and a decommissioned endpoint
// would block both commands. The engine calls `check` for every resource the program declares, so
// a provider process that is asked to read, diff, update or delete before any check was configured
// from state. It then asks the CLI for the stack's config as it is now (`pulumi config --json
// --show-secrets --stack <stack>`, in the project directory the engine started it in, with the
// environment the CLI gave it) and uses that instead. When that is not possible (no pulumi on
// PATH, a passphrase typed interactively), it warns once and keeps the recorded settings.
//
// Which stack: the one the `pulumi` command was started for. The engine tells a dynamic provider
// neither the stack nor the resource's URN, and a resource's recorded name is stale after
// `pulumi stack rename` (which rewrites only URNs) or `pulumi state move`. So it is read from the
// `pulumi` process that started this provider: its --stack/-s flag, else the stack selected in the
// project (`pulumi stack --show-name`, what that command then uses). Where no such process can be
// read (Windows), the stack recorded at the last `up`, and when that one is gone (renamed, or its
// resources moved), the selected stack.
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { warn } from "./errors";
import { configFromMap, configureFromCurrentStack } from "./settings";
import { stackOf } from "./stack-state";

let programRan = false;
let settled = false;
let current: string | undefined;

/** A `check` came: the program runs and `configure` had the current config. */
export function noteProgramRuns(): void {
  programRan = true;
}

/** One process's parent and arguments, or undefined when it cannot be read. */
function processInfo(pid: number): { ppid: number; args: string[] } | undefined {
  if (process.platform === "linux") {
    try {
      const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      const args = fs.readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").filter((a) => a !== "");
      return { ppid, args };
    } catch {
      return undefined;
    }
  }
  if (process.platform === "win32") return undefined;
  const r = spawnSync("ps", ["-o", "ppid=", "-o", "args=", "-p", String(pid)], { encoding: "utf8", timeout: 10_000 });
  const m = r.status === 0 ? /^\s*(\d+)\s+(.*)$/.exec(r.stdout.trim()) : null;
  return m ? { ppid: Number(m[1]), args: m[2].split(/\s+/) } : undefined;
}

/** The --stack/-s value of a pulumi command line, or null when it names none. */
export function stackFlag(args: string[]): string | null {
  for (let i = 1; i < args.length; i++) {
    const a = args[i];
    if (a === "--") break;
    if (a === "-s" || a === "--stack") return args[i + 1] ?? null;
    const m = /^(?:--stack|-s)=(.+)$/.exec(a);
    if (m) return m[1];
  }
  return null;
}

/** The `pulumi` process that started this provider (its pid and arguments); undefined when unknown. */
function pulumiCommand(): { pid: number; args: string[] } | undefined {
  let pid = process.ppid;
  for (let depth = 0; depth < 8 && pid > 1; depth++) {
    const p = processInfo(pid);
    if (!p) return undefined;
    const exe = path.basename(p.args[0] ?? "").toLowerCase();
    if (exe === "pulumi" || exe === "pulumi.exe") return { pid, args: p.args };
    pid = p.ppid;
  }
  return undefined;
}

/** The stack the `pulumi` command that started this provider acts on; undefined when unknown. */
function commandStack(): string | undefined {
  const command = pulumiCommand();
  if (!command) return undefined;
  const flag = stackFlag(command.args);
  if (flag) return flag;
  const r = spawnSync("pulumi", ["stack", "--show-name", "--non-interactive"], { encoding: "utf8", timeout: 60_000, env: process.env });
  return r.status === 0 && r.stdout.trim() !== "" ? r.stdout.trim() : undefined;
}

/** When a process started, from the system's own record; undefined when it cannot be read. */
function processStart(pid: number): Date | undefined {
  if (process.platform === "linux") {
    try {
      // proc(5): field 22 of /proc/PID/stat is the start time in clock ticks after boot; /proc/stat's
      // btime is the boot time in seconds since the epoch.
      const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
      const ticks = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19]);
      const btime = Number(/^btime (\d+)$/m.exec(fs.readFileSync("/proc/stat", "utf8"))?.[1]);
      const hz = Number(spawnSync("getconf", ["CLK_TCK"], { encoding: "utf8", timeout: 10_000 }).stdout?.trim()) || 100;
      const at = new Date(btime * 1000 + Math.round((ticks * 1000) / hz));
      return Number.isFinite(at.getTime()) ? at : undefined;
    } catch {
      return undefined;
    }
  }
  if (process.platform === "win32") return undefined;
  const r = spawnSync("ps", ["-o", "lstart=", "-p", String(pid)], { encoding: "utf8", timeout: 10_000, env: { ...process.env, LC_ALL: "C" } });
  const at = r.status === 0 ? new Date(r.stdout.trim()) : undefined;
  return at && Number.isFinite(at.getTime()) ? at : undefined;
}

let startedAt: Date | undefined;

/**
 * The moment the `pulumi` command that runs this provider started, the same for every provider
 * process it starts: `pulumi up` runs its preview and its update in two processes, and a decision
 * that rests on the time (a password that is due) must come out the same in both, so that `up` does
 * what its preview planned. Where that process cannot be found, the time this process first asked.
 */
export function commandStartedAt(): Date {
  if (!startedAt) {
    const command = pulumiCommand();
    startedAt = (command && processStart(command.pid)) ?? new Date();
  }
  return startedAt;
}

/** The stack this run acts on, as far as the provider knows it (for messages naming URNs). */
export function currentStack(): string | undefined {
  return current;
}

/** Before a read, diff, update or delete: make sure the settings are the stack's current ones. */
export function useCurrentConfig(props: unknown): void {
  if (programRan || settled) return;
  const recorded = typeof props === "object" && props !== null ? stackOf(props as Record<string, unknown>) : undefined;
  if (!recorded) return; // state written before resources recorded their URN: nothing names the stack
  settled = true;
  current = commandStack();
  const config = (name: string) => spawnSync("pulumi", ["config", "--json", "--show-secrets", "--stack", name, "--non-interactive"], { encoding: "utf8", timeout: 60_000, env: process.env });
  let stack = current ?? recorded;
  let r = config(stack);
  if ((r.status !== 0 || r.error) && current === undefined) {
    // No `pulumi` process could be read (Windows): the recorded stack is gone after a rename or a
    // move; the selected one is what the command acts on unless it was given --stack.
    const selected = spawnSync("pulumi", ["stack", "--show-name", "--non-interactive"], { encoding: "utf8", timeout: 60_000, env: process.env });
    if (selected.status === 0 && selected.stdout.trim() !== "") {
      stack = current = selected.stdout.trim();
      r = config(stack);
    }
  }
  if (r.status !== 0 || r.error) {
    const why = (r.error?.message ?? r.stderr ?? "").split("\n").find((l) => l.trim() !== "")?.trim() ?? `exit ${r.status}`;
    warn(`could not read stack ${stack}'s current config (${why}); using the connection settings recorded at the last pulumi up. If they changed, run pulumi up first, or add --run-program`);
    return;
  }
  const values: Record<string, string> = {};
  for (const [k, v] of Object.entries(JSON.parse(r.stdout) as Record<string, { value?: unknown; objectValue?: unknown }>)) {
    if (typeof v.value === "string") values[k] = v.value;
    else if (v.objectValue !== undefined) values[k] = JSON.stringify(v.objectValue);
  }
  configureFromCurrentStack(configFromMap(values));
}

/**
 * A resource's recorded URN with the stack it lives in now (after `pulumi stack rename` or
 * `pulumi state move`, the URN state holds names the current stack; the recorded input does not).
 */
export function urnNow(recordedUrn: string): string {
  const now = current?.split("/").pop();
  return now ? recordedUrn.replace(/^urn:pulumi:[^:]*::/, `urn:pulumi:${now}::`) : recordedUrn;
}
