// Obtaining real service tickets with the MIT tools an admin's machine has: `kinit` of the
// configured user (password on stdin, never in argv) into a private FILE: ccache in a fresh 0700
// temp dir, then `kvno <spn>` per SPN, then the cache is read with ccache.ts and deleted. Programs
// are spawned with argument arrays, never through a shell. This is doctor check 4; the tickets it
// returns feed check 5 (verify.ts). With `kdcProxy`, kinit and kvno get every ticket only through
// that MS-KKDCP proxy: they are given a krb5.conf of our own naming the proxy as the realm's only
// KDC (MIT's krb5-k5tls plugin speaks KKDCP for `kdc = https://…`), and nothing else.
import { spawn } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { AccessDeniedError, InvalidInputError, NotFoundError, UnreachableError } from "../errors";
import { Ccache, readCcacheFile } from "./ccache";
import { EncryptionKey } from "./crypto";
import { etypeName } from "./etype";
import { KerberosToolError } from "./errors";
import { formatPrincipal, parsePrincipal, Principal, samePrincipal } from "./principal";
import { decodeTicket } from "./ticket";

export interface TicketRequest {
  /** Who asks: "admin@CORP.EXAMPLE", "CORP\\admin" or "admin" (then `realm`). */
  user: string;
  password: string;
  realm: string;
  /** krb5.conf to use (KRB5_CONFIG); default: the system's. Not read when `kdcProxy` is given. */
  krb5Config?: string;
  /** Get every ticket through this KDC proxy only: its URL (https://host/KdcProxy) and the PEM of
   * the CA its certificate must chain to (default: the system's trust store). */
  kdcProxy?: { url: string; caFile?: string };
  /** Per program run; default 30 s. */
  timeoutMs?: number;
  /** Extra environment for the MIT programs (never KRB5CCNAME: the cache is always private). */
  env?: Record<string, string>;
  /** Program paths; default from PATH. */
  kinit?: string;
  kvno?: string;
}

export type TicketFailureCode =
  | "SPN_UNKNOWN"
  | "SPN_NOT_UNIQUE"
  | "NO_COMMON_ETYPE"
  | "CLOCK_SKEW"
  | "KDC_UNREACHABLE"
  | "NOT_IN_CACHE"
  | "KVNO_FAILED";

export type TicketOutcome =
  | {
      spn: string;
      ok: true;
      /** The DER Ticket: encrypted for the service, safe to hand to verify.ts. */
      ticket: Buffer;
      server: string;
      etype: number;
      etypeName: string;
      kvno?: number;
      endTime: Date;
      /** Only when asked for (`sessionKeys`): the ticket's session key and the client, to build an
       * AP-REQ (doctor check 8). Secret: zero it after use, never report it. */
      session?: { key: EncryptionKey; client: Principal };
    }
  | { spn: string; ok: false; code: TicketFailureCode; cause: string; fix: string };

interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

function run(program: string, args: string[], env: NodeJS.ProcessEnv, input: string | undefined, timeoutMs: number): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(program, args, { env, stdio: ["pipe", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString("utf8")));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString("utf8")));
    child.on("error", (e: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      reject(
        e.code === "ENOENT"
          ? new KerberosToolError(`${program} is not installed or not on PATH`, "install the MIT Kerberos client tools (Debian/Ubuntu: apt install krb5-user; RHEL: dnf install krb5-workstation)", { code: "KERBEROS_TOOL_MISSING", cause: e })
          : new KerberosToolError(`${program} could not be started: ${e.message}`, undefined, { code: "KERBEROS_TOOL_FAILED", cause: e }),
      );
    });
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      if (signal === "SIGKILL") stderr += `\n${program} timed out after ${timeoutMs} ms`;
      resolve({ code, stdout, stderr });
    });
    // EPIPE when the program exits without reading stdin must not crash us.
    child.stdin.on("error", () => undefined);
    child.stdin.end(input ?? "");
  });
}

function lastLine(s: string): string {
  return s.trim().split("\n").filter(Boolean).pop() ?? "(no message)";
}

/** kinit's arguments for the user: DOMAIN\\user and user@domain (a UPN in the realm's own suffix)
 * become user@REALM; a UPN with another suffix is passed as an enterprise name (-E, RFC 6806). */
function userPrincipalArgs(user: string, realm: string): string[] {
  const upper = realm.toUpperCase();
  const m = /^([^\\]+)\\(.+)$/.exec(user);
  const at = user.lastIndexOf("@");
  let args: string[];
  if (m) args = [`${m[2]}@${upper}`];
  else if (at < 0) args = [`${user}@${upper}`];
  else if (user.slice(at + 1).toUpperCase() === upper) args = [`${user.slice(0, at)}@${upper}`];
  else args = ["-E", user];
  if (args[args.length - 1].startsWith("-")) throw new InvalidInputError("user", `"${user}" is not a user name`, "give user@REALM or DOMAIN\\user", { code: "INVALID_USER_NAME" });
  return args;
}

/** Who the doctor's user is as a principal name (for the KDC proxy probe, kkdcp.ts): a bare name
 * in the realm, or an enterprise name (RFC 6806), as kinit is given it. */
export function userPrincipalName(user: string, realm: string): { name: string; enterprise: boolean } {
  const args = userPrincipalArgs(user, realm);
  const last = args[args.length - 1];
  return args[0] === "-E" ? { name: last, enterprise: true } : { name: last.slice(0, last.lastIndexOf("@")), enterprise: false };
}

function kinitError(user: string, realm: string, stderr: string): Error {
  const msg = lastLine(stderr);
  if (/Client .*not found|Client not found/i.test(stderr)) {
    return new NotFoundError(`kinit ${user}: the KDC does not know this user (${msg})`, `check the user name and the realm ${realm}`, { code: "KDC_UNKNOWN_USER" });
  }
  if (/Password incorrect|Preauthentication failed/i.test(stderr)) {
    return new AccessDeniedError(`kinit ${user}: the password was refused (${msg})`, "set the right password for the doctor's user in the stack config", { code: "KDC_PASSWORD_REFUSED" });
  }
  if (/revoked|expired|locked/i.test(stderr)) {
    return new AccessDeniedError(`kinit ${user}: the account cannot log on (${msg})`, "enable/unlock the account or renew its password in AD", { code: "KDC_LOGON_DENIED" });
  }
  if (/Cannot (contact|find) (any )?KDC|Cannot resolve network address|KDC unreachable/i.test(stderr)) {
    return new UnreachableError(`kinit ${user}: no KDC for ${realm} answered (${msg})`, `check that krb5.conf (KRB5_CONFIG) names a reachable DC for ${realm}, or that DNS has _kerberos._udp/_tcp SRV records`, { code: "KDC_UNREACHABLE" });
  }
  if (/Clock skew/i.test(stderr)) {
    return new UnreachableError(`kinit ${user}: the clocks differ by more than 5 minutes (${msg})`, "synchronise this machine's clock with the domain controller (NTP)", { code: "CLOCK_SKEW" });
  }
  return new KerberosToolError(`kinit ${user} failed: ${msg}`, undefined, { code: "KERBEROS_TOOL_FAILED" });
}

function kvnoFailure(spn: string, stderr: string, realm: string): TicketOutcome {
  const msg = lastLine(stderr);
  const out = (code: TicketFailureCode, cause: string, fix: string): TicketOutcome => ({ spn, ok: false, code, cause: `${cause} (${msg})`, fix });
  if (/Server not found in Kerberos database|Server .* not found/i.test(stderr)) {
    return out("SPN_UNKNOWN", `no account in ${realm} holds the SPN ${spn}`, `add it to the ASA: setspn -S ${spn} DOMAIN\\ASA$ (or let the stack's SPN resource do it)`);
  }
  if (/multiple entries|not unique/i.test(stderr)) {
    return out("SPN_NOT_UNIQUE", `more than one account holds ${spn}, so the KDC cannot choose a key`, `find the holders (setspn -Q ${spn}) and remove it from every account but the ASA`);
  }
  if (/no support for encryption type|encryption type .* not supported/i.test(stderr)) {
    return out("NO_COMMON_ETYPE", `the KDC has no key of an allowed encryption type for ${spn}`, "set msDS-SupportedEncryptionTypes to 24 on the ASA and set its password again so AD derives AES keys");
  }
  if (/Clock skew/i.test(stderr)) {
    return out("CLOCK_SKEW", "the clocks differ by more than 5 minutes", "synchronise this machine's clock with the domain controller (NTP)");
  }
  if (/Cannot (contact|find) (any )?KDC/i.test(stderr)) {
    return out("KDC_UNREACHABLE", `no KDC for ${realm} answered`, "check krb5.conf (KRB5_CONFIG) and the network path to the DC");
  }
  return out("KVNO_FAILED", `kvno ${spn} failed`, "run kvno by hand with KRB5_TRACE=/dev/stderr to see the KDC's answer");
}

/** A URL or path written into the krb5.conf MIT parses: refused if it could end the value or the
 * relation, or start a comment. */
function krb5ConfValue(field: string, v: string): string {
  if (/[\s{}"#;]/.test(v) || v === "") throw new InvalidInputError(field, `"${v}" cannot be written into a krb5.conf (space, brace, quote, # or ;)`, "give a URL or path without those characters", { code: "NOT_A_KRB5_CONF_VALUE" });
  return v;
}

/** A krb5.conf naming `kdcProxy` as the only KDC of `realm`: no DNS lookups, no other file. */
export function kdcProxyKrb5Conf(realm: string, kdcProxy: { url: string; caFile?: string }): string {
  const r = realm.toUpperCase();
  if (!/^[A-Z0-9.-]+$/.test(r)) throw new InvalidInputError("realm", `"${realm}" is not a realm name`, "give the AD domain's DNS name in capitals", { code: "INVALID_REALM" });
  return [
    "# pulumi-exchange-kerberos doctor: every ticket through the KDC proxy, nothing else.",
    "[libdefaults]",
    `\tdefault_realm = ${r}`,
    "\tdns_lookup_kdc = false",
    "\tdns_lookup_realm = false",
    "\trdns = false",
    "\tdns_canonicalize_hostname = false",
    "[realms]",
    `\t${r} = {`,
    `\t\tkdc = ${krb5ConfValue("kdcProxyUrl", kdcProxy.url)}`,
    ...(kdcProxy.caFile ? [`\t\thttp_anchors = FILE:${krb5ConfValue("kdcProxyCaFile", kdcProxy.caFile)}`] : []),
    "\t}",
    "",
  ].join("\n");
}

/** Runs `fn` with a private FILE: ccache holding a TGT for `req.user`; the cache (and its temp dir)
 * is removed afterwards, whatever happens. `kvno(spn)` adds a service ticket to it. */
export async function withTicketCache<T>(
  req: TicketRequest,
  fn: (cache: { path: string; env: NodeJS.ProcessEnv; kvno(spn: string): Promise<RunResult>; read(): Promise<Ccache> }) => Promise<T>,
): Promise<T> {
  const timeoutMs = req.timeoutMs ?? 30000;
  const principalArgs = userPrincipalArgs(req.user, req.realm);
  const principal = principalArgs[principalArgs.length - 1];
  const dir = await mkdtemp(join(tmpdir(), "ek-krb5-"));
  const path = join(dir, "ccache");
  const env: NodeJS.ProcessEnv = { ...process.env, ...req.env, KRB5CCNAME: `FILE:${path}`, LC_ALL: "C", LANG: "C" };
  delete env.KRB5_KTNAME;
  delete env.KRB5_CLIENT_KTNAME;
  if (req.krb5Config) env.KRB5_CONFIG = req.krb5Config;
  try {
    if (req.kdcProxy) {
      const conf = join(dir, "krb5.conf");
      await writeFile(conf, kdcProxyKrb5Conf(req.realm, req.kdcProxy), { mode: 0o600 });
      env.KRB5_CONFIG = conf;
    }
    const kinit = await run(req.kinit ?? "kinit", principalArgs, env, `${req.password}\n`, timeoutMs);
    if (kinit.code !== 0) throw kinitError(principal, req.realm, kinit.stderr);
    return await fn({
      path,
      env,
      kvno: (spn: string) => {
        if (spn.startsWith("-")) throw new InvalidInputError("spn", `"${spn}" is not an SPN`, "write it as HTTP/host", { code: "INVALID_SPN" });
        return run(req.kvno ?? "kvno", [spn], env, undefined, timeoutMs);
      },
      read: () => readCcacheFile(path),
    });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** Doctor check 4: one service ticket per SPN, as `req.user`. Rejects (typed, from errors.ts)
 * only when no ticket at all can be had (kinit fails); per-SPN failures are outcomes. */
export async function getServiceTickets(req: TicketRequest, spns: string[], opts: { sessionKeys?: boolean } = {}): Promise<TicketOutcome[]> {
  return withTicketCache(req, async (cache) => {
    const outcomes: TicketOutcome[] = [];
    for (const spn of spns) {
      const r = await cache.kvno(spn);
      if (r.code !== 0) {
        outcomes.push(kvnoFailure(spn, r.stderr, req.realm));
        continue;
      }
      const want = parsePrincipal(spn, req.realm);
      const cred = (await cache.read()).credentials.find((c) => samePrincipal(c.server, want));
      if (!cred) {
        outcomes.push({ spn, ok: false, code: "NOT_IN_CACHE", cause: `kvno ${spn} succeeded but the cache holds no ticket for ${formatPrincipal(want)}`, fix: "check krb5.conf for principal canonicalization (dns_canonicalize_hostname = false)" });
        continue;
      }
      const t = decodeTicket(cred.ticket);
      outcomes.push({
        spn,
        ok: true,
        ticket: Buffer.from(cred.ticket),
        server: formatPrincipal(cred.server),
        etype: t.encPart.etype,
        etypeName: etypeName(t.encPart.etype),
        kvno: t.encPart.kvno,
        endTime: cred.endTime,
        ...(opts.sessionKeys ? { session: { key: { etype: cred.key.etype, value: Buffer.from(cred.key.value) }, client: cred.client } } : {}),
      });
    }
    return outcomes;
  });
}
