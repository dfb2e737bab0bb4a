// The PowerShell process: spawned by us with node:child_process (see ARCHITECTURE.md, "The
// PowerShell process", for why not node-powershell), one framed line at a time (framing.ts).
// The executable is taken exactly as configured (exchange-kerberos:exchangeShell) with fixed
// arguments, or, for the ssh transport, the OpenSSH client with the arguments ssh-transport.ts
// builds: an argument array, never a shell line. An idle process never keeps the provider alive
// (it is unref'd; a call in flight holds its timer), and none outlives it: when the provider's
// engine is gone (engine-watch.ts), an idle shell is given the end of its input and a moment to
// exit in order, closing its sessions; one busy in a call (it would read that end only after the
// call, if ever), or still there after the moment, is killed before the provider exits.
import { spawn, type ChildProcessWithoutNullStreams } from "node:child_process";
import { beforeExitWhenEngineGone } from "../engine-watch";
import { FrameReader, framedScript, newFrameId } from "./framing";

/** The process exited (or was killed) before or during a call; what it last wrote to stderr with it. */
export class ShellExited extends Error {
  constructor(
    message: string,
    readonly exit: { code: number | null; signal: NodeJS.Signals | null; stderr: string } = { code: null, signal: null, stderr: "" },
  ) {
    super(message);
  }
}
/** The process could not be started at all (no such executable, not executable). */
export class ShellNotStarted extends Error {}
/** The call did not complete within its timeout; the process has been killed. */
export class ShellTimedOut extends Error {}
/** The line wrote to stderr: PowerShell's own error (a parse error, an unknown command). */
export class ShellReportedError extends Error {}

/**
 * `-Command -`: read statements from stdin; `-NoExit`: keep reading after the first.
 * `-ExecutionPolicy Bypass`: Windows PowerShell's default policy on Windows 10/11 is Restricted,
 * which loads no .psm1 (ours, nor the one Import-PSSession makes); the parameter sets the Process
 * scope only, and Group Policy still overrides it (about_Execution_Policies). PowerShell on other
 * systems ignores it.
 */
export const SHELL_ARGUMENTS: readonly string[] = ["-NoLogo", "-NoProfile", "-NonInteractive", "-ExecutionPolicy", "Bypass", "-NoExit", "-Command", "-"];

/** How much of the process's stderr is kept for the message of its exit (ssh says there why it failed). */
const STDERR_TAIL = 4096;

interface PendingCall {
  reader: FrameReader;
  resolve(stdout: string): void;
  reject(e: Error): void;
}

/** The processes not yet exited: those in a call are killed if this process exits first. */
const running = new Set<ShellProcess>();
let killOnExit = false;

/** How long idle shells get to exit in order once the engine is gone. */
const END_GRACE_MS = 3000;

/** Ends every shell: idle ones get the end of their input and `graceMs` to exit, the rest are killed. */
export async function endAllShells(graceMs = END_GRACE_MS): Promise<void> {
  const shells = [...running];
  for (const shell of shells) shell.end();
  const deadline = Date.now() + graceMs;
  while (shells.some((x) => !x.exited) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  for (const shell of shells) shell.kill();
}

export class ShellProcess {
  private readonly child: ChildProcessWithoutNullStreams;
  private exitReason?: Error;
  private pending?: PendingCall;
  private stderrTail = "";
  /** Whether any framed answer came back: the process (or the remote command behind ssh) speaks. */
  answered = false;

  constructor(executable: string, env: NodeJS.ProcessEnv, args: readonly string[] = SHELL_ARGUMENTS) {
    // A process group of its own: Pulumi's engine ends a provider by signalling the provider's
    // whole group (SIGINT, SIGKILL 5 s later: plugin.go's kill, cmdutil.InterruptChildren and
    // KillChildren), which would end the shell abruptly and leave its Exchange session counted
    // against PowerShellMaxConcurrency. Outside the group, the shell reads the end of its input when
    // the provider goes and exits in order, which closes its sessions (LocalRunspace.DoCloseHelper).
    this.child = spawn(executable, [...args], { env, stdio: "pipe", shell: false, windowsHide: true, detached: true });
    this.child.stdout.setEncoding("utf8");
    this.child.stderr.setEncoding("utf8");
    this.child.stdout.on("data", (chunk: string) => this.read("stdout", chunk));
    this.child.stderr.on("data", (chunk: string) => this.read("stderr", chunk));
    this.child.once("error", (e: NodeJS.ErrnoException) => {
      this.ended(e.syscall === "spawn" || e.code === "ENOENT" || e.code === "EACCES" ? new ShellNotStarted(e.message) : new ShellExited(e.message));
    });
    // No new call after exit; a call in flight fails once the streams are drained ("close"), so an
    // answer printed just before the exit is still read.
    const exit = { code: null as number | null, signal: null as NodeJS.Signals | null, stderr: "" };
    this.child.once("exit", (code, signal) => {
      running.delete(this);
      Object.assign(exit, { code, signal });
      this.exitReason ??= new ShellExited(signal ? `the process was ended by ${signal}` : `the process exited with code ${code}`, exit);
    });
    // stderr is complete only once the streams are closed (ssh writes why it failed as it exits).
    this.child.once("close", () => {
      exit.stderr = this.stderrTail;
      this.ended(this.exitReason ?? new ShellExited("the process closed its output", exit));
    });
    // Writing to a process that just exited: the exit event says what happened.
    this.child.stdin.on("error", () => undefined);
    running.add(this);
    if (!killOnExit) {
      killOnExit = true;
      beforeExitWhenEngineGone(() => endAllShells());
      // Any other exit: the idle shells read the end of their input as the pipes close.
      process.once("exit", () => {
        for (const shell of running) if (shell.pending) shell.kill();
      });
    }
    this.child.unref();
    for (const s of [this.child.stdin, this.child.stdout, this.child.stderr]) (s as unknown as { unref?(): void }).unref?.();
  }

  get exited(): boolean {
    return this.exitReason !== undefined;
  }

  /** Sends one line and returns what it printed on stdout; one call at a time (the session queues). */
  invoke(script: string, timeoutMs: number): Promise<string> {
    if (this.exitReason) return Promise.reject(this.exitReason);
    if (this.pending) return Promise.reject(new Error("a call is already in flight on this PowerShell process"));
    const id = newFrameId();
    return new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending = undefined;
        this.kill();
        reject(new ShellTimedOut(`no answer within ${timeoutMs} ms`));
      }, timeoutMs);
      const settle = (fn: () => void) => {
        clearTimeout(timer);
        this.pending = undefined;
        fn();
      };
      this.pending = {
        reader: new FrameReader(id),
        resolve: (stdout) => settle(() => resolve(stdout)),
        reject: (e) => settle(() => reject(e)),
      };
      this.child.stdin.write(framedScript(script, id), "utf8");
    });
  }

  /** Ends the process in order: the end of its input when idle (it closes its sessions and exits), at once when in a call. */
  end(): void {
    if (this.pending) this.kill();
    else this.child.stdin.end();
  }

  /** Ends the process at once (a timed-out call, a dead session, the end of the run). */
  kill(): void {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    this.child.kill("SIGKILL");
  }

  private read(stream: "stdout" | "stderr", chunk: string): void {
    if (stream === "stderr") this.stderrTail = (this.stderrTail + chunk).slice(-STDERR_TAIL);
    const call = this.pending;
    if (!call) return;
    call.reader.push(stream, chunk);
    const answer = call.reader.answer();
    if (!answer) return;
    this.answered = true;
    if (answer.stderr !== "") call.reject(new ShellReportedError(answer.stderr));
    else call.resolve(answer.stdout);
  }

  private ended(reason: Error): void {
    running.delete(this);
    this.exitReason ??= reason;
    this.pending?.reject(this.exitReason);
  }
}
