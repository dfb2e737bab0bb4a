// The one place that starts PowerShell. Per Exchange endpoint and process, a small pool of sessions
// shared by every resource of the run (exchange-kerberos:exchangeSessions, default
// DEFAULT_EXCHANGE_SESSIONS in settings.ts). A call goes to an idle session; when all are busy it
// waits its turn (first come, first served), and each call that has waited GROW_AFTER_MS starts
// another session in the background while the pool is not full (see grow). Each session runs one
// call at a time; a session found dead is started again; every call has a timeout. An extra
// session Exchange refuses to open (its throttling policy allows a user PowerShellMaxConcurrency
// sessions at once) shrinks the pool for the run instead of failing a call. The parts it is built
// from, one concern each:
//   shell-process.ts  the process (spawn, framing of one line, exit, kill)
//   ssh-transport.ts  the ssh command line, and what ssh's failures mean (exchangeTransport ssh)
//   channel.ts        the fixed script text and the result line
//   sealing.ts        secrets sealed under the process's key, and how that key crosses
//   error-mapping.ts  Exchange's errors, returned as data, to our typed errors
//   operation-table.ts each operation's parameters and result shape, checked here at the boundary
//   session-stats.ts  the counters
import * as fs from "node:fs";
import { causeOf, InvalidInputError, KerberosRolloutError, NotFoundError, UnreachableError, warn } from "../errors";
import { CONFIG_NAMESPACE, type ExchangeSettings } from "../settings";
import { assertScriptText, bootstrapScript, EXECUTION_POLICY_SCRIPT, groupPolicyRefusal, inlineBootstrapScript, KEY_REQUEST_SCRIPT, keyDeliveryScript, modulePath, operationScript, parsePublicKeyAnswer, parseResult, type Outcome } from "./channel";
import { ExchangeCommandError, scrub, typedError } from "./error-mapping";
import { OPERATION_TABLE, type OperationName, type OperationParams, type OperationResult } from "./operation-table";
import { encryptSealKey, newSealKey, sealParams, Secret, secretsIn, SESSION_KEY_ENV } from "./sealing";
import { countCall, countRestart, countSessionStarted, countTimeout } from "./session-stats";
import { ShellExited, ShellNotStarted, ShellProcess, ShellReportedError, ShellTimedOut } from "./shell-process";
import { sshArguments, sshClientMissing, sshDestination, sshFailure, sshSilent } from "./ssh-transport";
import { recordProblems } from "./wire-schema";

/** The process ended; `answered`: whether it had answered anything before (ssh: the channel was up). */
class SessionDied extends Error {
  constructor(
    message: string,
    readonly exit: ShellExited["exit"] | undefined,
    readonly answered: boolean,
  ) {
    super(message);
  }
}
class CallTimedOut extends Error {
  constructor(
    what: string,
    readonly answered: boolean,
  ) {
    super(what);
  }
}

export interface CallOptions {
  /** Names the object in error messages, e.g. "server EX1". */
  what: string;
  /** Safe to send again after the session died mid-call (reads and absolute sets). */
  idempotent: boolean;
}

/** How long a call waits for a busy session before the pool opens another (see grow). */
const GROW_AFTER_MS = 100;

/**
 * The culture every session is opened with (New-PSSessionOption -Culture/-UICulture): what Exchange
 * formats as text (dates, the ASA status's display text) then reads the same whatever the display
 * language of the machine running the shell or of the Exchange server.
 */
export const SESSION_CULTURE = "en-US";

/** How long closing a session waits for Remove-PSSession before the shell is ended anyway. */
const DISCONNECT_TIMEOUT_MS = 10_000;

/** The sessions of one endpoint: the resources' calls share them. */
export class ExchangeSession {
  readonly key: string;
  readonly endpoint: string;
  /** Per-endpoint memo (server versions, server state), shared by the pool's sessions. */
  readonly memo = new Map<string, unknown>();
  /** Every session of the pool, the ones still opening included. */
  private readonly sessions: ShellSession[] = [];
  private readonly idle: ShellSession[] = [];
  /** Calls waiting for a session, first come first served. */
  private readonly waiting: { since: number; hand: (s: ShellSession) => void }[] = [];
  /** Extra sessions opening in the background, each for a call that waited. */
  private warming = 0;
  private growTimer?: NodeJS.Timeout;
  /** How many sessions the pool may hold; lowered when Exchange refuses one. */
  private size: number;

  constructor(
    private readonly settings: ExchangeSettings,
    endpoint: string,
    /** The server the sessions run on (;TargetServer=), for the operations Exchange runs only there. */
    private readonly target?: string,
  ) {
    this.endpoint = endpoint;
    this.key = sessionKey(settings, endpoint, target);
    // A target's sessions serve one server, whose calls come one after another.
    this.size = target === undefined ? Math.max(1, settings.sessions) : 1;
  }

  /** Runs one operation on the first session free; its result narrowed by the operation table. */
  async call<Op extends OperationName>(op: Op, params: OperationParams<Op>, opts: CallOptions): Promise<OperationResult<Op>> {
    const s = await this.acquire();
    try {
      return await s.run(op, params, opts);
    } finally {
      this.release(s);
    }
  }

  async close(): Promise<void> {
    await Promise.all(this.sessions.map((s) => s.close()));
  }

  /** The first call opens the first session itself (its errors are that call's); later calls take a free one or wait. */
  private acquire(): Promise<ShellSession> {
    const free = this.idle.pop();
    if (free) return Promise.resolve(free);
    if (this.sessions.length === 0) return Promise.resolve(this.open());
    return new Promise((resolve) => {
      this.waiting.push({ since: Date.now(), hand: resolve });
      this.grow();
    });
  }

  private open(): ShellSession {
    const s = new ShellSession(this.settings, this.endpoint, this.key, this.target);
    this.sessions.push(s);
    return s;
  }

  /**
   * Each call that has waited GROW_AFTER_MS for a busy session starts one more session in the
   * background, up to the pool's size: against an Exchange that answers in milliseconds calls
   * hardly wait and one PowerShell process serves every call; against one that takes a second per
   * call the servers of a site are worked on side by side. A new session serves whichever call is
   * first in line when it is ready, so no call waits for an open that a busy session beats (a
   * handful of calls behind an open session are done before another session could open).
   */
  private grow(): void {
    if (this.waiting.length === 0 || this.sessions.length >= this.size) return;
    const now = Date.now();
    const waited = this.waiting.filter((w) => now - w.since >= GROW_AFTER_MS).length;
    while (this.sessions.length < this.size && this.warming < waited) {
      const s = this.open();
      this.warming++;
      s.warm().then(
        () => {
          this.warming--;
          this.release(s);
        },
        (e: unknown) => {
          this.warming--;
          this.dropUnopened(s, e);
        },
      );
    }
    // The first call in line still short of GROW_AFTER_MS is looked at again when it reaches it.
    const next = this.waiting.find((w) => now - w.since < GROW_AFTER_MS);
    if (next && !this.growTimer && this.sessions.length < this.size) {
      this.growTimer = setTimeout(() => {
        this.growTimer = undefined;
        this.grow();
      }, next.since + GROW_AFTER_MS - now);
      this.growTimer.unref();
    }
  }

  private release(s: ShellSession): void {
    const next = this.waiting.shift();
    if (next) next.hand(s);
    else this.idle.push(s);
    this.grow();
  }

  /**
   * An extra session that did not open (Exchange's throttling, most often): the pool gets smaller
   * for this run and the calls wait for the others, in one warning line.
   */
  private dropUnopened(s: ShellSession, cause: unknown): void {
    this.sessions.splice(this.sessions.indexOf(s), 1);
    this.size = this.sessions.length;
    s.kill();
    const why = s.explain(cause);
    warn(`Exchange at ${this.endpoint} did not open session ${this.sessions.length + 1} of ${this.settings.sessions} (${why instanceof KerberosRolloutError ? causeOf(why) : why.message}); this run goes on with ${this.size}`, "lower exchange-kerberos:exchangeSessions, or close other Exchange Management Shell sessions of this account");
  }
}

/** One PowerShell process holding one Exchange session, one call at a time. */
class ShellSession {
  private shell?: ShellProcess;
  private sealKey: Buffer = newSealKey();
  private everStarted = false;
  /** The shell holds an open Exchange session (Connect-EkExchange answered). */
  private connected = false;
  private tail: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly settings: ExchangeSettings,
    private readonly endpoint: string,
    private readonly key: string,
    private readonly target?: string,
  ) {}

  /** Opens the session before any call needs it (the pool's extra sessions). */
  warm(): Promise<void> {
    const warmed = this.tail.then(() => this.ensure(true)).then(() => undefined);
    this.tail = warmed.catch(() => undefined);
    return warmed;
  }

  /** Runs one operation when the one before it is done (the pool hands a session to one caller at a time). */
  run<Op extends OperationName>(op: Op, params: OperationParams<Op>, opts: CallOptions): Promise<OperationResult<Op>> {
    const run = this.tail.then(
      () => this.runNow(op, params, opts),
      () => this.runNow(op, params, opts),
    );
    this.tail = run.catch(() => undefined);
    return run;
  }

  /**
   * Ends the shell, closing its Exchange session first while the shell still answers: a runspace
   * left behind by a killed process counts against the account's PowerShellMaxConcurrency until
   * Exchange expires it ("Be sure to disconnect the remote PowerShell session when you're
   * finished", Microsoft's "Connect to Exchange servers using remote PowerShell").
   */
  async close(): Promise<void> {
    await this.tail;
    const shell = this.shell;
    if (shell && !shell.exited && this.connected) {
      this.connected = false;
      await this.invoke(shell, operationScript("Disconnect-EkExchange", {}), "closing the Exchange session", Math.min(this.settings.timeoutMs, DISCONNECT_TIMEOUT_MS)).catch(() => undefined);
    }
    this.kill();
  }

  private get dead(): boolean {
    return !this.shell || this.shell.exited;
  }

  private secrets(params: unknown): string[] {
    return [...secretsIn(params), ...(this.settings.password ? [this.settings.password] : [])];
  }

  /** Sends one operation: its parameters checked against the table, sealed, and its answer narrowed by it. */
  private async send<Op extends OperationName>(shell: ShellProcess, op: Op, params: OperationParams<Op>, what: string): Promise<{ ok: true; data: OperationResult<Op> } | Extract<Outcome, { ok: false }>> {
    const problems = recordProblems(OPERATION_TABLE[op].params, params, "", "call");
    if (problems.length > 0) throw new ExchangeCommandError(`${op}: the parameters do not fit the operation table: ${problems.join("; ")}`);
    countCall(this.key, op);
    const outcome = await this.invoke(shell, operationScript(op, sealParams(params, this.sealKey)), what);
    if (!outcome.ok) return outcome;
    return { ok: true, data: OPERATION_TABLE[op].result.read(outcome.data, op) as OperationResult<Op> };
  }

  private async runNow<Op extends OperationName>(op: Op, params: OperationParams<Op>, opts: CallOptions): Promise<OperationResult<Op>> {
    const secrets = this.secrets(params);
    let retried = false;
    for (;;) {
      try {
        const shell = await this.ensure();
        const outcome = await this.send(shell, op, params, `${op} (${opts.what})`);
        if (!outcome.ok) throw typedError(outcome.error, opts.what, secrets);
        return outcome.data;
      } catch (e) {
        // A session that died is started again once; an operation that may have taken effect is
        // not sent twice (adding an ASA credential twice would push the previous one out).
        if (e instanceof SessionDied && opts.idempotent && !retried) {
          retried = true;
          continue;
        }
        throw this.translate(e, `${op} (${opts.what})`, secrets);
      }
    }
  }

  /** What an error that ended an open means, in our terms (the pool's warning for an extra session). */
  explain(e: unknown): Error {
    return this.translate(e, `opening a session for ${this.endpoint}`, this.secrets({}));
  }

  private translate(e: unknown, what: string, secrets: readonly string[]): Error {
    if (e instanceof KerberosRolloutError) return e;
    const ssh = this.settings.ssh;
    if (ssh) {
      // Over ssh, whatever ends the process before PowerShell speaks is ssh's (or sshd's) doing.
      if (e instanceof CallTimedOut && !e.answered) return sshSilent(ssh, this.settings.timeoutMs);
      if (e instanceof SessionDied) return scrubbed(sshFailure(ssh, { code: e.exit?.code ?? null, signal: e.exit?.signal ?? null, stderr: e.exit?.stderr ?? e.message }, e.answered), secrets);
      if (e instanceof ShellNotStarted) return sshClientMissing(ssh, e.message);
    }
    if (e instanceof CallTimedOut) {
      return new UnreachableError(
        `${what}: Exchange at ${this.endpoint} did not answer within ${this.settings.timeoutMs} ms; the session was closed and the next call starts a new one`,
        "check that the server answers, or raise exchange-kerberos:exchangeTimeoutMs",
      );
    }
    if (e instanceof SessionDied) {
      return new UnreachableError(`${what}: the PowerShell session for ${this.endpoint} ended during the call (${scrub(e.message, secrets).trim()})`, "run the operation again; if it repeats, start the shell by hand to see why it exits");
    }
    if (e instanceof ShellNotStarted) {
      return new UnreachableError(`could not start ${this.settings.shell}: ${e.message}`, "install PowerShell 7 (pwsh) or set exchange-kerberos:exchangeShell, or reach Exchange from a Windows management host: exchange-kerberos:exchangeTransport ssh (docs/platforms.md)");
    }
    const msg = e instanceof Error ? e.message : String(e);
    return new ExchangeCommandError(`${what}: PowerShell reported: ${scrub(msg, secrets).trim()}`);
  }

  /**
   * The open shell, opened first if need be. Until one open of this transport has succeeded, the
   * pools' first opens wait for each other: a dead end (below) found by the first is then every
   * other server's answer, not one more refused open each. A pool's extra sessions (`alongside`)
   * open side by side with its first, as they exist to.
   */
  private async ensure(alongside = false): Promise<ShellProcess> {
    if (this.shell && !this.dead) return this.shell;
    const key = transportKey(this.settings);
    if (!alongside) for (let first = firstOpens.get(key); first && !openedTransports.has(key); first = firstOpens.get(key)) await first;
    const failed = deadEnds.get(key);
    if (failed) throw failed;
    if (alongside || openedTransports.has(key)) return this.open();
    const opening = this.open();
    const settled: Promise<void> = opening
      .then(() => void openedTransports.add(key), () => undefined)
      .finally(() => {
        if (firstOpens.get(key) === settled) firstOpens.delete(key);
      });
    firstOpens.set(key, settled);
    return opening;
  }

  private async open(): Promise<ShellProcess> {
    if (this.everStarted) countRestart();
    this.kill();
    const shell = this.spawn();
    this.everStarted = true;
    const secrets = this.secrets({});
    try {
      await this.handOverKey(shell);
      // Over ssh the module travels as text: the management host has no copy of the file.
      const bootstrap = this.settings.ssh ? inlineBootstrapScript(fs.readFileSync(modulePath(), "utf8")) : bootstrapScript(modulePath());
      const loaded = await this.invokeRaw(shell, bootstrap, "loading the operations module").catch(async (e: unknown) => {
        if (e instanceof SessionDied || e instanceof CallTimedOut) throw e;
        throw (await this.policyRefusal(shell)) ?? e;
      });
      if (!loaded.includes("EK-MODULE-LOADED")) {
        throw new ExchangeCommandError(`${this.shellName()} did not load ExchangeKerberos.psm1`, "check that the executable is PowerShell 5.1 or 7");
      }
      const connect: OperationParams<"Connect-EkExchange"> = {
        Connection: this.settings.connection,
        Endpoint: this.endpoint,
        Culture: SESSION_CULTURE,
        Authentication: this.settings.authentication,
      };
      if (this.target !== undefined) connect.TargetServer = this.target;
      if (this.settings.user !== undefined && this.settings.password !== undefined) {
        connect.User = this.settings.user;
        connect.Password = new Secret(this.settings.password);
      }
      const outcome = await this.send(shell, "Connect-EkExchange", connect, `connecting to ${this.endpoint}`);
      if (!outcome.ok) {
        const err = typedError(outcome.error, `connecting to Exchange at ${this.endpoint}`, secrets);
        throw err instanceof ExchangeCommandError || err instanceof NotFoundError
          ? new UnreachableError(err.reason, "check exchange-kerberos:exchangeEndpoint, exchangeConnection and exchangeAuthentication")
          : err;
      }
      this.connected = this.settings.connection === "remote";
    } catch (e) {
      this.kill();
      // A session that dies while opening is started once more; over ssh, a process that ended
      // before the remote command said a word never opened (ssh said why): that is not retried.
      if (e instanceof SessionDied && !(this.settings.ssh && !e.answered)) throw e;
      const err = this.translate(e, `starting the Exchange session for ${this.endpoint}`, secrets);
      if (err instanceof KerberosRolloutError && DEAD_ENDS.has(err.code)) deadEnds.set(transportKey(this.settings), err);
      throw err;
    }
    return shell;
  }

  /**
   * Why the module did not load, when Group Policy is the cause: the shell is started with
   * -ExecutionPolicy Bypass (Process scope), which the policies at MachinePolicy and UserPolicy
   * override (about_Execution_Policies, "Execution policy precedence").
   */
  private async policyRefusal(shell: ShellProcess): Promise<KerberosRolloutError | undefined> {
    if (shell.exited) return undefined;
    const answer = await this.invokeRaw(shell, EXECUTION_POLICY_SCRIPT, "reading the execution policy").catch(() => "");
    return groupPolicyRefusal(answer, this.settings.shell);
  }

  /**
   * The sealing key crosses inside the channel (sealing.ts): the shell answers an RSA public key of
   * its own, and gets the key encrypted to it. Nothing else is sent before this is done.
   */
  private async handOverKey(shell: ShellProcess): Promise<void> {
    const answer = parsePublicKeyAnswer(await this.invokeRaw(shell, KEY_REQUEST_SCRIPT, "the key handoff"));
    if (!answer) {
      throw new ExchangeCommandError(`${this.shellName()} did not answer the key handoff with a public key`, "check that the executable is PowerShell 5.1 or 7 (exchange-kerberos:exchangeShell, or sshRemoteCommand over ssh)");
    }
    const delivered = await this.invokeRaw(shell, keyDeliveryScript(encryptSealKey(this.sealKey, answer.modulus, answer.exponent)), "the key handoff");
    if (!delivered.includes("EK-KEY-SET")) throw new ExchangeCommandError(`${this.shellName()} did not take the session key`, "check that the executable is PowerShell 5.1 or 7");
  }

  /** The shell, for messages: the executable, or where ssh runs the remote command. */
  private shellName(): string {
    const ssh = this.settings.ssh;
    return ssh ? `the remote command on ${sshDestination(ssh)}` : `the shell ${this.settings.shell}`;
  }

  private spawn(): ShellProcess {
    this.sealKey = newSealKey();
    // The executable exactly as configured, or ssh to the management host. No sealing key in the
    // environment or the arguments (it crosses in the channel: handOverKey), and none inherited.
    const { [SESSION_KEY_ENV]: _inherited, ...env } = process.env;
    const ssh = this.settings.ssh;
    const shell = ssh ? new ShellProcess(ssh.executable, env, sshArguments(ssh)) : new ShellProcess(this.settings.shell, env);
    countSessionStarted(this.key);
    this.shell = shell;
    return shell;
  }

  kill(): void {
    const shell = this.shell;
    this.shell = undefined;
    this.connected = false;
    shell?.kill();
  }

  private async invoke(shell: ShellProcess, script: string, what: string, timeoutMs = this.settings.timeoutMs): Promise<Outcome> {
    const raw = await this.invokeRaw(shell, script, what, timeoutMs);
    const outcome = parseResult(raw);
    if (outcome) return outcome;
    throw new ExchangeCommandError(`${what}: the operations module printed no result line`, "start the shell by hand, Import-Module ExchangeKerberos.psm1 and run the operation to see what it prints");
  }

  private async invokeRaw(shell: ShellProcess, script: string, what: string, timeoutMs = this.settings.timeoutMs): Promise<string> {
    assertScriptText(script);
    if (shell.exited) {
      this.kill();
      throw new SessionDied("the process had exited", undefined, shell.answered);
    }
    try {
      return await shell.invoke(script, timeoutMs);
    } catch (e) {
      if (e instanceof ShellTimedOut) {
        countTimeout();
        this.kill();
        throw new CallTimedOut(what, shell.answered);
      }
      if (e instanceof ShellExited) {
        this.kill();
        throw new SessionDied(e.message, e.exit, shell.answered);
      }
      if (e instanceof ShellReportedError) throw new Error(e.message);
      throw e;
    }
  }
}

/** The shell every session of these settings starts: the executable, or ssh to one destination. */
function transportKey(settings: Pick<ExchangeSettings, "shell" | "ssh">): string {
  return settings.ssh ? `ssh:${sshDestination(settings.ssh)}` : settings.shell;
}

export function sessionKey(settings: Omit<ExchangeSettings, "sessions" | "timeoutMs">, endpoint: string, target?: string): string {
  return [transportKey(settings), settings.connection, endpoint.toLowerCase(), target?.toLowerCase() ?? "", settings.authentication, settings.user ?? ""].join("|");
}

/**
 * Failures to open that no retry within this run can mend (a host key, a key refused, no such
 * remote command, no WSMan client…): the first one is kept per transport, and every later open
 * of the run fails at once with the same line, instead of one more ssh connection per resource.
 * A host that did not answer (SSH_UNREACHABLE) or a connection lost is tried again.
 */
const DEAD_ENDS: ReadonlySet<string> = new Set(["SSH_CLIENT_MISSING", "SSH_HOST_KEY_UNKNOWN", "SSH_HOST_KEY_CHANGED", "SSH_AUTH_REFUSED", "SSH_REMOTE_COMMAND_MISSING", "SSH_REMOTE_COMMAND_SILENT", "WSMAN_CLIENT_MISSING"]);
const deadEnds = new Map<string, KerberosRolloutError>();
/** Transports one session has opened through in this run, and the open the others wait for until then. */
const openedTransports = new Set<string>();
const firstOpens = new Map<string, Promise<void>>();

/** The same error with every secret scrubbed from its reason (ssh's stderr is quoted in it). */
function scrubbed(e: KerberosRolloutError, secrets: readonly string[]): KerberosRolloutError {
  const reason = scrub(e.reason, secrets);
  return reason === e.reason ? e : new UnreachableError(reason, e.fix, { code: e.code });
}

const sessions = new Map<string, ExchangeSession>();

function pooled(settings: ExchangeSettings, endpoint: string, target?: string): ExchangeSession {
  const key = sessionKey(settings, endpoint, target);
  let s = sessions.get(key);
  if (!s) {
    s = new ExchangeSession(settings, endpoint, target);
    sessions.set(key, s);
  }
  return s;
}

/**
 * The shared sessions for the endpoint that manages `server`: the configured endpoint, else the
 * server itself (remote), or this machine (local).
 */
export function sessionFor(settings: ExchangeSettings, server: string): ExchangeSession {
  return pooled(settings, settings.connection === "local" ? "localhost" : (settings.endpoint ?? server));
}

/**
 * A session that runs on the server `fqdn` itself, for the operations Exchange performs only there
 * (the ASA credential's write and its passwords' read): as RollAlternateServiceAccountPassword.ps1
 * does, http://<fqdn>/powershell?serializationLevel=Full;TargetServer=<fqdn>, whatever
 * exchangeEndpoint says. The snap-in (exchangeConnection local) runs as the user, and Exchange
 * manages the ASA only from a process running as LocalSystem (its remote PowerShell's): refused.
 */
export function targetSessionFor(settings: ExchangeSettings, fqdn: string, what: string): ExchangeSession {
  assertTargetSessions(settings, what);
  return pooled(settings, fqdn, fqdn);
}

/** Throws the refusal targetSessionFor gives, without opening anything (a resource's check). */
export function assertTargetSessions(settings: ExchangeSettings, what: string): void {
  if (settings.connection === "local") {
    throw new InvalidInputError(
      `${CONFIG_NAMESPACE}:exchangeConnection`,
      `is local: ${what} needs a remote session running on the server itself, as LocalSystem (Exchange: "Only processes running under LocalSystem account can manage Alternate Service Account settings for a computer"), and the snap-in runs as you`,
      `remove ${CONFIG_NAMESPACE}:exchangeConnection (remote is the default): each server's credential is then set in a session to http://<server>/powershell with TargetServer=<server>`,
      { code: "ASA_NEEDS_REMOTE_SESSION" },
    );
  }
}

/** Ends every session of this process (tests, the doctor; the provider process simply exits). */
export async function closeExchangeSessions(): Promise<void> {
  const all = [...sessions.values()];
  sessions.clear();
  deadEnds.clear();
  openedTransports.clear();
  firstOpens.clear();
  await Promise.all(all.map((s) => s.close()));
}
