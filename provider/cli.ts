#!/usr/bin/env node
// The package's command: `npx pulumi-exchange-kerberos doctor [--stack NAME] [--json] [flags]`, and
// `npx pulumi-exchange-kerberos keytab [--stack NAME] -o FILE`: the ASA's keys for every SPN, and
// `npx pulumi-exchange-kerberos discover --servers …|all --site NAME`: a stack file from a rollout
// done by hand (provider/discover), and `npx pulumi-exchange-kerberos drift --stack S | --all`: what
// changed by hand and whether Kerberos still works (provider/drift).
// Settings come from the stack (its config through `pulumi config --json --show-secrets`, its
// outputs through `pulumi stack output --json --show-secrets`; the selected stack unless --stack),
// or from explicit flags, which also override the stack's values. Secrets are never flags (they
// would show in the process list): they come from the stack, from EXCHANGE_KERBEROS_* environment
// variables, or from standard input (--asa-password-stdin). Exit code: 0 only when Kerberos will
// work; 1 when a check failed or could not run; 2 when the doctor itself could not run.
import { spawn } from "node:child_process";
import { writeAsaKeytab } from "./asa-keytab";
import { closeDoctorConnections, doctorOptionsFromConfig, DoctorOptions, formatDoctorReport, runDoctor } from "./doctor";
import { driftCommand } from "./drift";
import { rotateCommand } from "./drift/rotate";
import { readArgs } from "./cli-args";
import { KerberosRolloutError } from "./errors";
import { DISCOVER_USAGE, DiscoverError, formatDiscoverReport, runDiscover, splitDiscoverArgs } from "./discover";
import { redact, registerSecret } from "./secrets";
import { CONFIG_NAMESPACE, SSH_TRANSPORT_KEYS } from "./settings";

export const USAGE = `usage: pulumi-exchange-kerberos drift (--stack NAME | --all) [--json]   (drift --help says more)
usage: pulumi-exchange-kerberos rotate (--stack NAME | --all)           (rotate --help says more)

usage: pulumi-exchange-kerberos doctor [--stack NAME] [--cwd DIR] [--json] [flags]

Proves that Kerberos for the Outlook namespace works, and says why when it does not.
Without flags it reads the selected Pulumi stack (or --stack NAME) in the current folder (or --cwd).

flags (each sets the stack config key ${CONFIG_NAMESPACE}:<camelCase of the flag>):
  --namespace FQDN          --server NAME (repeatable)      --dns-address IP (repeatable)
  --dns-server IP           --extra-spn-name FQDN (rep.)    --asa-name NAME
  --ldap-url URL            --ldap-ca-file PEM              --ldap-bind-user USER      --gc-url URL
  --kerberos-user USER      --krb5-config PATH              --exchange-shell PATH
  --kerberos-kdc KDC        the KDC the doctor asks (host[:port], tcp/ or udp/host[:port], or dns
                            for _kerberos._tcp SRV records); default: the DC of --ldap-url
  --exchange-connection remote|local                        --exchange-endpoint HOST
  --exchange-transport process|ssh                          --ssh-target USER@HOST
  --ssh-port N              --ssh-known-hosts-file PATH     --ssh-identity-file PATH
  --ssh-remote-command CMD  --ssh-connect-timeout-ms N      --ssh-executable PATH
  --https-ca-file PEM       CA of the Exchange certificate  --https-check false (skip check 8)
  --kdc-proxy URL           every ticket only through this KDC proxy (MS-KKDCP), as from outside
  --kdc-proxy-ca-file PEM   CA of the proxy's certificate   --kdc-proxy-timeout-ms N (default 30000)
  --asa-password-max-age-days N   the ASA password's maximum age: check 3 reports ok, due soon or overdue
  --no-stack                use the flags and environment only
  --asa-password-stdin      read the ASA password from standard input
secrets from the environment: EXCHANGE_KERBEROS_LDAP_BIND_PASSWORD, EXCHANGE_KERBEROS_ASA_PASSWORD,
  EXCHANGE_KERBEROS_KERBEROS_PASSWORD, EXCHANGE_KERBEROS_EXCHANGE_PASSWORD
exit code: 0 Kerberos will work, 1 it will not (or a check could not run), 2 the doctor could not run,
  3 nothing failed but what the stack wrote has not reached every DC yet (pending: run it again later)

usage: pulumi-exchange-kerberos keytab [--stack NAME] [--cwd DIR] -o FILE [flags as above]

Writes FILE (mode 0600): the ASA's AES256 and AES128 keys for HTTP/<namespace> and every extra
name, derived from the stack's ASA password with AD's salt and AD's current key version (read from
the directory), for a Linux front end (Apache mod_auth_gssapi, nginx…) that accepts the same
Kerberos tickets as the Exchange servers. exit code: 0 written, 2 not written

${DISCOVER_USAGE}`;

/** Config keys a flag may set (camelCase of --kebab-case); list-valued ones repeat. */
const FLAG_KEYS = new Set([
  "namespace",
  "dnsServer",
  "asaName",
  "ldapUrl",
  "ldapCaFile",
  "ldapBindUser",
  "ldapStartTls",
  "gcUrl",
  "kerberosUser",
  "kerberosKdc",
  "krb5Config",
  "exchangeShell",
  "exchangeConnection",
  "exchangeEndpoint",
  "exchangeAuthentication",
  "exchangeUser",
  ...SSH_TRANSPORT_KEYS,
  "httpsCaFile",
  "httpsCheck",
  "kdcProxyUrl",
  "kdcProxyCaFile",
  "kdcProxyTimeoutMs",
  "asaPasswordMaxAgeDays",
]);
/** Flags whose config key is not their camelCase: --kdc-proxy sets kdcProxyUrl. */
const FLAG_ALIASES: Record<string, string> = { kdcProxy: "kdcProxyUrl" };
const LIST_FLAGS: Record<string, string> = { server: "servers", dnsAddress: "dnsAddresses", extraSpnName: "extraSpnNames" };
const SECRET_KEYS = ["ldapBindPassword", "asaPassword", "kerberosPassword", "exchangePassword"];

class UsageError extends Error {}

interface Parsed {
  stack?: string;
  cwd?: string;
  json: boolean;
  noStack: boolean;
  asaPasswordStdin: boolean;
  config: Record<string, string>;
}

const camel = (kebab: string): string => kebab.replace(/-([a-z0-9])/g, (_, c: string) => c.toUpperCase());
const envName = (key: string): string => `EXCHANGE_KERBEROS_${key.replace(/([A-Z])/g, "_$1").toUpperCase()}`;

export function parseDoctorArgs(argv: string[]): Parsed {
  const p: Parsed = { json: false, noStack: false, asaPasswordStdin: false, config: {} };
  const lists: Record<string, string[]> = {};
  for (const { arg: a, flag, value } of readArgs(argv, (flag) => new UsageError(`${flag} needs a value`))) {
    if (flag === "--json") p.json = true;
    else if (flag === "--no-stack") p.noStack = true;
    else if (flag === "--asa-password-stdin") p.asaPasswordStdin = true;
    else if (flag === "--stack" || flag === "-s") p.stack = value();
    else if (flag === "--cwd" || flag === "-C") p.cwd = value();
    else if (flag.startsWith("--")) {
      const key = FLAG_ALIASES[camel(flag.slice(2))] ?? camel(flag.slice(2));
      if (SECRET_KEYS.includes(key)) throw new UsageError(`${flag}: a secret is never taken as a flag (it would show in the process list); set ${envName(key)} or keep it in the stack`);
      if (LIST_FLAGS[key]) (lists[LIST_FLAGS[key]] ??= []).push(value());
      else if (FLAG_KEYS.has(key)) p.config[key] = value();
      else throw new UsageError(`unknown flag ${flag}`);
    } else throw new UsageError(`unexpected argument ${a}`);
  }
  for (const [k, v] of Object.entries(lists)) p.config[k] = JSON.stringify(v);
  return p;
}

function runPulumi(args: string[], cwd: string | undefined): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn("pulumi", [...args, "--non-interactive"], { cwd, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    let err = "";
    child.stdout.on("data", (d: Buffer) => (out += d.toString("utf8")));
    child.stderr.on("data", (d: Buffer) => (err += d.toString("utf8")));
    child.on("error", (e: NodeJS.ErrnoException) => reject(new UsageError(e.code === "ENOENT" ? "the pulumi CLI is not on PATH (needed to read the stack; or give --no-stack and flags)" : `pulumi: ${e.message}`)));
    child.on("close", (code) => (code === 0 ? resolve(out) : reject(new UsageError(`pulumi ${args.slice(0, 2).join(" ")} failed: ${redact(err.trim().split("\n").pop() ?? "")}`))));
  });
}

/** The stack's config as `key → string` (structured values as JSON) and its outputs. */
async function readStack(stack: string | undefined, cwd: string | undefined): Promise<{ config: Record<string, string>; outputs: Record<string, unknown> }> {
  const sel = stack ? ["--stack", stack] : [];
  const rawConfig = JSON.parse(await runPulumi(["config", "--json", "--show-secrets", ...sel], cwd)) as Record<string, { value?: unknown; objectValue?: unknown }>;
  const config: Record<string, string> = {};
  for (const [k, v] of Object.entries(rawConfig)) {
    const val = v.objectValue ?? v.value;
    if (val !== undefined) config[k] = typeof val === "string" ? val : JSON.stringify(val);
  }
  let outputs: Record<string, unknown> = {};
  try {
    outputs = JSON.parse(await runPulumi(["stack", "output", "--json", "--show-secrets", ...sel], cwd)) as Record<string, unknown>;
  } catch {
    outputs = {}; // a stack never deployed has no outputs; the config may still be enough
  }
  // The password AD holds, as the stack last set it (the AsaPassword resource's state): during a
  // rotation that failed half-way the config's (and the output's) password is not yet AD's.
  try {
    const state = JSON.parse(await runPulumi(["stack", "export", "--show-secrets", ...sel], cwd)) as { deployment?: { resources?: { type?: string; outputs?: Record<string, unknown> }[] } };
    const asaPassword = (state.deployment?.resources ?? []).filter((r) => (r.type ?? "").endsWith(":AsaPassword")).map((r) => exportedSecret(r.outputs?.password));
    if (asaPassword.length === 1 && typeof asaPassword[0] === "string" && asaPassword[0] !== "") {
      registerSecret(asaPassword[0]);
      outputs.asaPasswordInAd = asaPassword[0];
    }
  } catch {
    // no state to read: the outputs and config stand
  }
  return { config, outputs };
}

/**
 * A value of `pulumi stack export --show-secrets`: a secret stays wrapped in its signature object,
 * its value JSON in `plaintext`.
 */
function exportedSecret(v: unknown): unknown {
  if (typeof v !== "object" || v === null || typeof (v as { plaintext?: unknown }).plaintext !== "string") return v;
  try {
    return JSON.parse((v as { plaintext: string }).plaintext);
  } catch {
    return undefined;
  }
}

function readStdin(): Promise<string> {
  return new Promise((resolve, reject) => {
    let s = "";
    process.stdin.setEncoding("utf8");
    process.stdin.on("data", (d: string) => (s += d));
    process.stdin.on("end", () => resolve(s.replace(/\r?\n$/, "")));
    process.stdin.on("error", reject);
  });
}

/** The doctor's options from the stack, the environment, standard input and the flags. */
async function optionsFrom(p: Parsed): Promise<DoctorOptions> {
  const useStack = !p.noStack && (p.stack !== undefined || p.config.namespace === undefined);
  const fromStack = useStack ? await readStack(p.stack, p.cwd) : { config: {}, outputs: {} };
  const values: Record<string, string> = { ...fromStack.config };
  for (const key of SECRET_KEYS) {
    const v = process.env[envName(key)];
    if (v) values[`${CONFIG_NAMESPACE}:${key}`] = v;
  }
  for (const [k, v] of Object.entries(p.config)) values[`${CONFIG_NAMESPACE}:${k}`] = v;
  if (p.asaPasswordStdin) values[`${CONFIG_NAMESPACE}:asaPassword`] = await readStdin();
  for (const key of SECRET_KEYS) registerSecret(values[`${CONFIG_NAMESPACE}:${key}`]);
  const outputs = { ...fromStack.outputs };
  if (typeof outputs.asaPassword === "string") registerSecret(outputs.asaPassword);
  if (p.asaPasswordStdin || process.env[envName("asaPassword")]) {
    delete outputs.asaPassword; // explicit wins
    delete outputs.asaPasswordInAd;
  }
  return doctorOptionsFromConfig(values, outputs);
}

async function doctor(argv: string[]): Promise<number> {
  const p = parseDoctorArgs(argv);
  const options = await optionsFrom(p);
  try {
    const report = await runDoctor(options);
    process.stdout.write(`${p.json ? JSON.stringify(report, null, 2) : formatDoctorReport(report)}\n`);
    return report.ok ? 0 : report.retryAfterSeconds !== undefined ? 3 : 1;
  } finally {
    await closeDoctorConnections();
  }
}

async function keytab(argv: string[]): Promise<number> {
  let output: string | undefined;
  const rest: string[] = [];
  for (const { arg, flag, value } of readArgs(argv, (flag) => new UsageError(`${flag} needs a file name`))) {
    if (flag === "-o" || flag === "--output") output = value();
    else rest.push(arg);
  }
  if (!output) throw new UsageError("keytab: give the file to write with -o FILE");
  const p = parseDoctorArgs(rest);
  const o = await optionsFrom(p);
  try {
    const written = await writeAsaKeytab({ path: output, names: [o.namespace, ...(o.extraSpnNames ?? [])], asaName: o.asaName, asaPassword: o.asaPassword, ldap: o.ldap });
    // Windows keeps no mode bits (Node sets only the read-only attribute): the folder's ACL is what
    // protects the keys there (docs/platforms.md).
    const protection = process.platform === "win32" ? "readable as the folder's ACL allows: keep it in a folder only its users can read" : "0600";
    const line = `keytab: wrote ${written.path} (${protection}): ${written.principals.join(", ")}, key version ${written.kvno}, ${written.etypes.join(" and ")}`;
    process.stdout.write(`${p.json ? JSON.stringify(written, null, 2) : line}\n`);
    return 0;
  } finally {
    await closeDoctorConnections();
  }
}

async function discover(argv: string[]): Promise<number> {
  const { own, rest } = splitDiscoverArgs(argv);
  const p = parseDoctorArgs(rest);
  try {
    const r = await runDiscover({ ...own, json: p.json, cwd: p.cwd, config: p.config });
    const report = p.json ? JSON.stringify({ ...r.proposal, written: r.written }, null, 2) : formatDiscoverReport(r, own.site);
    if (own.print) {
      process.stdout.write(r.stackFile);
      process.stderr.write(`${report}\n`);
    } else process.stdout.write(`${report}\n`);
    return 0;
  } finally {
    await closeDoctorConnections();
  }
}

export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (command === "drift") return driftCommand(rest); // its own usage, flags and exit codes: provider/drift
  if (command === "rotate") return rotateCommand(rest); // the unattended rotation job: provider/drift/rotate.ts
  if (command === "discover" && (rest.includes("--help") || rest.includes("-h"))) {
    process.stdout.write(`${DISCOVER_USAGE}\n`);
    return 0;
  }
  if (command === undefined || command === "--help" || command === "-h" || rest.includes("--help")) {
    process.stdout.write(`${USAGE}\n`);
    return command === undefined ? 2 : 0;
  }
  if (command !== "doctor" && command !== "keytab" && command !== "discover") {
    process.stderr.write(`unknown command ${command}\n${USAGE}\n`);
    return 2;
  }
  try {
    return await (command === "keytab" ? keytab(rest) : command === "discover" ? discover(rest) : doctor(rest));
  } catch (e) {
    const known = e instanceof UsageError || e instanceof KerberosRolloutError || e instanceof DiscoverError;
    process.stderr.write(`pulumi-exchange-kerberos ${command}: ${redact(known ? e.message : e instanceof Error ? (e.stack ?? e.message) : String(e))}\n`);
    return 2;
  }
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    () => process.exit(2),
  );
}
