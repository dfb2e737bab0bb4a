// The one place that starts PowerShell. One session per Exchange endpoint per process, shared by
// every resource of the run; calls are queued one at a time; a session found dead is started
// again; every call has a timeout.
//
// Protocol (the operations module, ExchangeKerberos.psm1, is the other half):
//   node-powershell spawns `<shell> -NoLogo -NoProfile -NonInteractive -NoExit -Command -` and, for
//   each invocation, writes to stdin: `[Console]::Error.WriteLine("<id>")`,
//   `[Console]::Out.WriteLine("<id>")`, our one line, and the same two lines again; it returns what
//   stdout printed between the two ids, or throws with what stderr printed.
//   Our lines are fixed text: the bootstrap (load the module, path as base64) and
//   `Invoke-EkOperation -Name '<operation>' -ParamsBase64 '<base64 of UTF-8 JSON>'`. Only base64
//   characters and operation names from a fixed list ever reach script text (assertScriptText
//   enforces it), so no value, and no password, is ever parsed as PowerShell or passed as a
//   process argument. The answer is one stdout line `EK-RESULT-BEGIN <base64 JSON> EK-RESULT-END`.
//   Secrets (the ASA password, the Exchange credential) are not even base64 in the script text,
//   which PowerShell's script block logging would record: each is sealed (AES-256-CBC, then
//   HMAC-SHA256: authenticated) under a random key made for each shell process and handed to it in its environment (EK_SESSION_KEY),
//   never in its arguments; the module reads the key once, removes the variable and unseals the
//   value into a PSCredential.
import * as path from "node:path";
import * as fs from "node:fs";
import { createCipheriv, createHmac, randomBytes } from "node:crypto";
import type { Socket } from "node:net";
import { PowerShell, PSExecutableType } from "node-powershell";
import {
  AccessDeniedError,
  AlreadyExistsError,
  InvalidInputError,
  KerberosRolloutError,
  NotFoundError,
  UnreachableError,
} from "../errors";
import type { ExchangeSettings } from "../settings";
import { redact, registerSecret } from "../secrets";

/** An Exchange (or PowerShell) error that fits none of the typed categories; carries Exchange's message. */
export class ExchangeCommandError extends KerberosRolloutError {}

/** The operations ExchangeKerberos.psm1 exports through Invoke-EkOperation. */
export type OperationName =
  | "Connect-EkExchange"
  | "Get-EkServerInfo"
  | "Get-EkVdirUrls"
  | "Set-EkVdirUrls"
  | "Get-EkAsaCredential"
  | "Set-EkAsaCredential"
  | "Remove-EkAsaCredential"
  | "Test-EkAsaCredential"
  | "Get-EkOutlookAuth"
  | "Set-EkOutlookAuth";

export const OPERATIONS: readonly OperationName[] = [
  "Connect-EkExchange",
  "Get-EkServerInfo",
  "Get-EkVdirUrls",
  "Set-EkVdirUrls",
  "Get-EkAsaCredential",
  "Set-EkAsaCredential",
  "Remove-EkAsaCredential",
  "Test-EkAsaCredential",
  "Get-EkOutlookAuth",
  "Set-EkOutlookAuth",
];

/** The module, found from the compiled file (dist/provider/exchange) or the source tree. */
export function modulePath(): string {
  const candidates = [
    path.join(__dirname, "ExchangeKerberos.psm1"),
    path.join(__dirname, "..", "..", "..", "provider", "exchange", "ExchangeKerberos.psm1"),
  ];
  const hit = candidates.find((c) => fs.existsSync(c));
  if (!hit) {
    throw new ExchangeCommandError(`the operations module ExchangeKerberos.psm1 is missing (looked in ${candidates.join(", ")})`, "reinstall pulumi-exchange-kerberos");
  }
  return hit;
}

export function toBase64Json(value: unknown): string {
  return Buffer.from(JSON.stringify(value), "utf8").toString("base64");
}

/** The environment variable that hands a shell process its sealing key. */
export const SESSION_KEY_ENV = "EK_SESSION_KEY";

/** A parameter value that must never be readable in script text (sealed per call, scrubbed from errors). */
export class Secret {
  constructor(readonly value: string) {}
}

/** A session's sealing key: 32 bytes for AES-256, then 32 for HMAC-SHA256. */
export const SEAL_KEY_BYTES = 64;

/**
 * Encrypt-then-MAC: AES-256-CBC with PKCS#7 padding (the defaults of .NET's Aes on the PowerShell
 * side) under the key's first half, a fresh IV per value, then HMAC-SHA256 over IV ‖ ciphertext
 * under its second half (HMACSHA256 is in Windows PowerShell 5.1's .NET Framework too):
 * base64(iv ‖ ciphertext ‖ tag). The module checks the tag before it decrypts, so a wrong key or
 * any changed byte is refused, never "opened" into garbage.
 */
export function sealSecret(key: Buffer, value: string): { sealed: string } {
  if (key.length !== SEAL_KEY_BYTES) throw new Error(`a sealing key has ${SEAL_KEY_BYTES} bytes, not ${key.length}`);
  const iv = randomBytes(16);
  const c = createCipheriv("aes-256-cbc", key.subarray(0, 32), iv);
  const body = Buffer.concat([iv, c.update(value, "utf8"), c.final()]);
  const tag = createHmac("sha256", key.subarray(32)).update(body).digest();
  return { sealed: Buffer.concat([body, tag]).toString("base64") };
}

/** Replaces every Secret in `params` by its sealed form; collects the secrets for scrubbing. */
export function sealParams(params: unknown, key: Buffer, found: string[] = []): unknown {
  if (params instanceof Secret) {
    found.push(params.value);
    return sealSecret(key, params.value);
  }
  if (Array.isArray(params)) return params.map((v) => sealParams(v, key, found));
  if (params !== null && typeof params === "object") {
    return Object.fromEntries(Object.entries(params).map(([k, v]) => [k, sealParams(v, key, found)]));
  }
  return params;
}

function secretsIn(params: unknown): string[] {
  if (params instanceof Secret) return [params.value];
  if (Array.isArray(params)) return params.flatMap(secretsIn);
  if (params !== null && typeof params === "object") return Object.values(params).flatMap(secretsIn);
  return [];
}

export function bootstrapScript(moduleFile: string): string {
  const b64 = Buffer.from(moduleFile, "utf8").toString("base64");
  return (
    "$ErrorActionPreference = 'Stop'; $ProgressPreference = 'SilentlyContinue'; " +
    `Import-Module -Name ([System.Text.Encoding]::UTF8.GetString([System.Convert]::FromBase64String('${b64}'))) -DisableNameChecking -Force; ` +
    "[Console]::Out.WriteLine('EK-MODULE-LOADED')"
  );
}

export function operationScript(op: OperationName, params: unknown): string {
  return `Invoke-EkOperation -Name '${op}' -ParamsBase64 '${toBase64Json(params)}'`;
}

const B64 = "[A-Za-z0-9+/]*={0,2}";
const ALLOWED_SCRIPTS = [
  new RegExp(
    "^\\$ErrorActionPreference = 'Stop'; \\$ProgressPreference = 'SilentlyContinue'; " +
      `Import-Module -Name \\(\\[System\\.Text\\.Encoding\\]::UTF8\\.GetString\\(\\[System\\.Convert\\]::FromBase64String\\('${B64}'\\)\\)\\) -DisableNameChecking -Force; ` +
      "\\[Console\\]::Out\\.WriteLine\\('EK-MODULE-LOADED'\\)$",
  ),
  new RegExp(`^Invoke-EkOperation -Name '(${OPERATIONS.join("|")})' -ParamsBase64 '${B64}'$`),
];

/** The last line of defence: refuses any script text that is not one of our fixed forms. */
export function assertScriptText(text: string): void {
  if (!ALLOWED_SCRIPTS.some((re) => re.test(text))) {
    throw new ExchangeCommandError("refusing to send script text that is not one of the fixed forms (a value would have been spliced into PowerShell)");
  }
}

export interface OperationError {
  category: string;
  reason: string;
  errorId: string;
  message: string;
}

type Outcome = { ok: true; data: unknown } | { ok: false; error: OperationError };

/** Finds the one marked result line in what stdout printed. */
export function parseResult(stdout: string): Outcome | undefined {
  const m = /EK-RESULT-BEGIN ([A-Za-z0-9+/=]*) EK-RESULT-END/.exec(stdout);
  if (!m) return undefined;
  const doc: unknown = JSON.parse(Buffer.from(m[1], "base64").toString("utf8"));
  if (typeof doc !== "object" || doc === null || typeof (doc as { ok?: unknown }).ok !== "boolean") {
    throw new ExchangeCommandError("the operations module answered with a malformed result document");
  }
  const d = doc as { ok: boolean; data?: unknown; error?: Partial<OperationError> };
  if (d.ok) return { ok: true, data: d.data ?? null };
  const e = d.error ?? {};
  return {
    ok: false,
    error: { category: String(e.category ?? ""), reason: String(e.reason ?? ""), errorId: String(e.errorId ?? ""), message: String(e.message ?? "") },
  };
}

/** Redacts a message (Exchange may echo what it was given), registering `secrets` first. */
function scrub(message: string, secrets: readonly (string | undefined)[]): string {
  for (const s of secrets) registerSecret(s);
  return redact(message);
}

/** Maps an error returned as data to our typed family. `what` names the object (server, vdir). */
export function typedError(err: OperationError, what: string, secrets: readonly (string | undefined)[] = []): KerberosRolloutError {
  const msg = scrub(err.message, secrets);
  const text = `${what}: Exchange says: ${msg}`;
  const cat = err.category;
  const reason = err.reason;
  if (reason === "CommandNotFoundException") {
    return new ExchangeCommandError(text, "the cmdlet does not exist in this Exchange version or for this role; check the server's version (Get-ExchangeServer) and the account's Exchange roles");
  }
  if (cat === "ObjectNotFound" || /NotFound/i.test(reason)) {
    return new NotFoundError(text, "check the server name (Get-ExchangeServer lists them) and that the virtual directory exists in Default Web Site");
  }
  if (cat === "PermissionDenied" || cat === "SecurityError" || /UnauthorizedAccess|AccessDenied/i.test(reason)) {
    return new AccessDeniedError(text, "run as a member of Organization Management (or a role group with the Client Access and virtual directory cmdlets)");
  }
  if (cat === "OpenError" || cat === "ConnectionError" || cat === "ResourceUnavailable" || /Transport|Remoting/i.test(reason)) {
    return new UnreachableError(text, "check exchange-kerberos:exchangeEndpoint and that http://<server>/PowerShell/ answers for the configured authentication");
  }
  if (cat === "ResourceExists") {
    return new AlreadyExistsError(text, "adopt the existing object or remove it first");
  }
  if (cat === "InvalidArgument" || cat === "InvalidData" || cat === "InvalidType" || /ParameterBinding/i.test(reason)) {
    return new InvalidInputError(what, `Exchange refused a value: ${msg}`, "correct the value named in Exchange's message");
  }
  return new ExchangeCommandError(text, err.errorId ? `see Exchange's error ${err.errorId}` : undefined);
}

// node-powershell lets the NODE_POWERSHELL environment variable override the executable; the
// stack's exchange-kerberos:exchangeShell must win, so take the configured executable as given.
class ExchangeShell extends PowerShell {
  protected setExecutable(options: { pwsh?: boolean; pwshPrev?: boolean; executable?: PSExecutableType }): string {
    if (!options.executable) throw new Error("no PowerShell executable configured");
    return String(options.executable);
  }
}

class SessionDied extends Error {}
class CallTimedOut extends Error {}

interface EndpointStats {
  sessionsStarted: number;
  calls: number;
}

export interface ExchangeStats {
  /** PowerShell processes started (first starts and restarts). */
  sessionsStarted: number;
  /** Restarts of a session found dead. */
  restarts: number;
  /** Operations sent, in total and per operation (Connect-EkExchange included: once per session). */
  calls: number;
  callsPerOperation: Record<string, number>;
  timeouts: number;
  /** Per session key (shell | connection | endpoint | authentication | user). */
  endpoints: Record<string, EndpointStats>;
}

const stats: ExchangeStats = { sessionsStarted: 0, restarts: 0, calls: 0, callsPerOperation: {}, timeouts: 0, endpoints: {} };

/** Counters for this process: how many sessions were started and operations called. */
export function exchangeStats(): ExchangeStats {
  return JSON.parse(JSON.stringify(stats)) as ExchangeStats;
}

export interface CallOptions {
  /** Names the object in error messages, e.g. "server EX1". */
  what: string;
  /** Safe to send again after the session died mid-call (reads and absolute sets). */
  idempotent: boolean;
}

export class ExchangeSession {
  readonly key: string;
  readonly endpoint: string;
  /** Per-session memo (server versions), so a run asks each server once. */
  readonly memo = new Map<string, unknown>();
  private shell?: ExchangeShell;
  private sealKey: Buffer = randomBytes(SEAL_KEY_BYTES);
  private dead = true;
  private everStarted = false;
  private tail: Promise<unknown> = Promise.resolve();

  constructor(private readonly settings: ExchangeSettings, endpoint: string) {
    this.endpoint = endpoint;
    this.key = sessionKey(settings, endpoint);
  }

  /** Runs one operation when the calls queued before it are done. */
  call(op: OperationName, params: Record<string, unknown>, opts: CallOptions): Promise<unknown> {
    const run = this.tail.then(
      () => this.run(op, params, opts),
      () => this.run(op, params, opts),
    );
    this.tail = run.catch(() => undefined);
    return run;
  }

  async close(): Promise<void> {
    await this.tail;
    this.kill();
  }

  private endpointStats(): EndpointStats {
    return (stats.endpoints[this.key] ??= { sessionsStarted: 0, calls: 0 });
  }

  private count(op: OperationName): void {
    stats.calls++;
    stats.callsPerOperation[op] = (stats.callsPerOperation[op] ?? 0) + 1;
    this.endpointStats().calls++;
  }

  private secrets(params: unknown): string[] {
    return [...secretsIn(params), ...(this.settings.password ? [this.settings.password] : [])];
  }

  private async run(op: OperationName, params: Record<string, unknown>, opts: CallOptions): Promise<unknown> {
    const secrets = this.secrets(params);
    let retried = false;
    for (;;) {
      try {
        const shell = await this.ensure();
        this.count(op);
        const outcome = await this.invoke(shell, operationScript(op, sealParams(params, this.sealKey)), `${op} (${opts.what})`);
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

  private translate(e: unknown, what: string, secrets: readonly string[]): Error {
    if (e instanceof KerberosRolloutError) return e;
    if (e instanceof CallTimedOut) {
      return new UnreachableError(
        `${what}: Exchange at ${this.endpoint} did not answer within ${this.settings.timeoutMs} ms; the session was closed and the next call starts a new one`,
        "check that the server answers, or raise exchange-kerberos:exchangeTimeoutMs",
      );
    }
    if (e instanceof SessionDied) {
      return new UnreachableError(`${what}: the PowerShell session for ${this.endpoint} ended during the call (${scrub(e.message, secrets).trim()})`, "run the operation again; if it repeats, start the shell by hand to see why it exits");
    }
    const msg = e instanceof Error ? e.message : String(e);
    return new ExchangeCommandError(`${what}: PowerShell reported: ${scrub(msg, secrets).trim()}`);
  }

  private async ensure(): Promise<ExchangeShell> {
    if (this.shell && !this.dead) return this.shell;
    if (this.everStarted) stats.restarts++;
    this.kill();
    const shell = this.spawn();
    this.everStarted = true;
    const secrets = this.secrets({});
    try {
      const loaded = await this.invokeRaw(shell, bootstrapScript(modulePath()), "loading the operations module");
      if (!loaded.includes("EK-MODULE-LOADED")) {
        throw new ExchangeCommandError(`the shell ${this.settings.shell} did not load ExchangeKerberos.psm1`, "check that the executable is PowerShell 5.1 or 7");
      }
      const connect: Record<string, unknown> = {
        Connection: this.settings.connection,
        Endpoint: this.endpoint,
        Authentication: this.settings.authentication,
      };
      if (this.settings.user !== undefined && this.settings.password !== undefined) {
        connect.User = this.settings.user;
        connect.Password = new Secret(this.settings.password);
      }
      this.count("Connect-EkExchange");
      const outcome = await this.invoke(shell, operationScript("Connect-EkExchange", sealParams(connect, this.sealKey)), `connecting to ${this.endpoint}`);
      if (!outcome.ok) {
        const err = typedError(outcome.error, `connecting to Exchange at ${this.endpoint}`, secrets);
        throw err instanceof ExchangeCommandError || err instanceof NotFoundError
          ? new UnreachableError(err.message, "check exchange-kerberos:exchangeEndpoint, exchangeConnection and exchangeAuthentication")
          : err;
      }
    } catch (e) {
      this.kill();
      if (e instanceof SessionDied) throw e;
      throw this.translate(e, `starting the Exchange session for ${this.endpoint}`, secrets);
    }
    return shell;
  }

  private spawn(): ExchangeShell {
    this.sealKey = randomBytes(SEAL_KEY_BYTES);
    let shell: ExchangeShell;
    try {
      shell = new ExchangeShell({
        executable: this.settings.shell as PSExecutableType,
        executableOptions: { "-NoProfile": true, "-NonInteractive": true },
        // The sealing key travels in the environment: never in the arguments, never in script text.
        spawnOptions: { env: { ...process.env, [SESSION_KEY_ENV]: this.sealKey.toString("base64") } },
        throwOnInvocationError: true,
      });
    } catch (e) {
      throw new UnreachableError(`could not start ${this.settings.shell}: ${e instanceof Error ? e.message : String(e)}`, "install PowerShell 7 (pwsh) or set exchange-kerberos:exchangeShell");
    }
    stats.sessionsStarted++;
    this.endpointStats().sessionsStarted++;
    this.shell = shell;
    this.dead = false;
    const markDead = () => {
      if (this.shell === shell) this.dead = true;
    };
    // node-powershell keeps these private; a process that fails to spawn must not become an
    // unhandled rejection or an unhandled stream error.
    const internals = shell as unknown as { exitPromise?: Promise<void>; process?: { unref(): void; once(ev: string, fn: () => void): void } };
    internals.exitPromise?.catch(() => undefined);
    internals.process?.once("exit", markDead);
    internals.process?.once("error", markDead);
    shell.streams.stdin.on("error", markDead);
    shell.streams.stdout.once("close", markDead);
    // An idle session must not keep the provider process alive; a call in flight holds a timer.
    internals.process?.unref();
    for (const s of [shell.streams.stdin, shell.streams.stdout, shell.streams.stderr]) (s as unknown as Socket).unref?.();
    return shell;
  }

  private kill(): void {
    const shell = this.shell;
    this.shell = undefined;
    this.dead = true;
    if (shell) shell.dispose("SIGKILL").catch(() => undefined);
  }

  private async invoke(shell: ExchangeShell, script: string, what: string): Promise<Outcome> {
    const raw = await this.invokeRaw(shell, script, what);
    const outcome = parseResult(raw);
    if (outcome) return outcome;
    // node-powershell returns an empty answer when the process exits mid-call with code 0.
    if (this.dead) {
      this.kill();
      throw new SessionDied("the process exited");
    }
    throw new ExchangeCommandError(`${what}: the operations module printed no result line`, "start the shell by hand, Import-Module ExchangeKerberos.psm1 and run the operation to see what it prints");
  }

  private async invokeRaw(shell: ExchangeShell, script: string, what: string): Promise<string> {
    assertScriptText(script);
    if (this.dead) throw new SessionDied("the process had exited");
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new CallTimedOut(what)), this.settings.timeoutMs);
    });
    try {
      const result = await Promise.race([shell.invoke(script), timeout]);
      return result.raw;
    } catch (e) {
      if (e instanceof CallTimedOut) {
        stats.timeouts++;
        this.kill();
        throw e;
      }
      const msg = e instanceof Error ? e.message : String(e);
      if (this.dead || (e instanceof Error && e.name === "ProcessError") || /invoke called after process exited/.test(msg)) {
        this.kill();
        throw new SessionDied(msg);
      }
      throw e;
    } finally {
      clearTimeout(timer);
    }
  }
}

export function sessionKey(settings: ExchangeSettings, endpoint: string): string {
  return [settings.shell, settings.connection, endpoint.toLowerCase(), settings.authentication, settings.user ?? ""].join("|");
}

const sessions = new Map<string, ExchangeSession>();

/**
 * The shared session for the endpoint that manages `server`: the configured endpoint, else the
 * server itself (remote), or this machine (local).
 */
export function sessionFor(settings: ExchangeSettings, server: string): ExchangeSession {
  const endpoint = settings.connection === "local" ? "localhost" : (settings.endpoint ?? server);
  const key = sessionKey(settings, endpoint);
  let s = sessions.get(key);
  if (!s) {
    s = new ExchangeSession(settings, endpoint);
    sessions.set(key, s);
  }
  return s;
}

/** Ends every session of this process (tests; the provider process simply exits). */
export async function closeExchangeSessions(): Promise<void> {
  const all = [...sessions.values()];
  sessions.clear();
  await Promise.all(all.map((s) => s.close()));
}
