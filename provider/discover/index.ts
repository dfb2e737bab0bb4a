// `discover`: reads a rollout done by hand (read-only) and proposes the site's stack file, with
// `adopt: true`, so that the site can be taken over by `pulumi up` (dynamic resources cannot be
// `pulumi import`ed). It reports every inconsistency with the doctor's code, follows the majority,
// and says what the first `up` will change: always a rotation of the ASA's password, since no tool
// can read the current one. docs/guides/take-over-a-rollout.md.
import * as fs from "node:fs";
import * as path from "node:path";
import { configFromMap, configureFromStack, CONFIG_NAMESPACE, exchangeSettings, ldapSettings } from "../settings";
import { readArgs } from "../cli-args";
import { registerSecret } from "../secrets";
import { propose, Proposal, DiscoverError } from "./propose";
import { readFacts } from "./read";
import { renderStackFile, stackFilePath } from "./stack-file";

export { propose, DiscoverError } from "./propose";
export type { Proposal, DiscoverFinding, ProposedSite } from "./propose";
export { renderStackFile, stackFilePath } from "./stack-file";

export const DISCOVER_USAGE = `usage: pulumi-exchange-kerberos discover --servers EX1,EX2|all (--site NAME | --print) [flags]

Reads a Kerberos rollout done by hand, read-only — each server's ASA credential, URLs and
Outlook Anywhere/MAPI authentication; the ASA account in AD, its OU, encryption types and HTTP/
SPNs; the namespace's A record — and proposes the site's stack file with adopt: true.
  --servers EX1,EX2|all     the Client Access servers (all: every Exchange server in AD's
                            Configuration partition but Edge); --server NAME may repeat instead
  --site NAME               write the stack file Pulumi.NAME.yaml where the project keeps them
                            (Pulumi.yaml's stackConfigDir: examples/ here); refuses to overwrite
  --force                   overwrite an existing stack file
  --print                   print the stack file instead of writing it (the report goes to stderr)
  --namespace FQDN          the namespace, when the servers' URLs disagree or show none
  --asa-name NAME           the ASA, when no server holds one
  --asa-ou DN               with --asa-name: a new computer ASA to create in that OU, when the
                            servers' ASA is a user or managed service account (ASA_NOT_A_COMPUTER)
  --cwd DIR                 the project folder (default: the current one)
  --json                    the report as JSON
connection flags, as for doctor: --ldap-url URL --ldap-ca-file PEM --ldap-bind-user USER --gc-url URL
  --ldap-start-tls false  --krb5-config PATH --kerberos-user USER --dns-server IP --https-ca-file PEM
  --exchange-shell PATH --exchange-connection remote|local --exchange-endpoint HOST
  --exchange-authentication Kerberos|Negotiate|Basic --exchange-user USER
  --exchange-transport ssh --ssh-target USER@HOST --ssh-known-hosts-file PATH --ssh-identity-file PATH
  --ssh-port N --ssh-remote-command CMD --ssh-connect-timeout-ms N --ssh-executable PATH
  (copied into the stack file; no stack is read)
secrets from the environment only, never written to the file: EXCHANGE_KERBEROS_LDAP_BIND_PASSWORD,
  EXCHANGE_KERBEROS_EXCHANGE_PASSWORD
The first \`pulumi up\` of the proposed config rotates the ASA's password (its current one cannot be
read from AD or Exchange): every server gets the new one first, AD last. Everything else that
already matches is taken over unchanged.
exit code: 0 proposed (inconsistencies are reported, not fatal), 2 nothing could be proposed`;

export interface DiscoverArgs {
  servers: string[] | "all";
  /** With --asa-name: a new computer ASA, when the servers' ASA is not a computer account. */
  asaOu?: string;
  site?: string;
  print: boolean;
  force: boolean;
  json: boolean;
  cwd?: string;
  /** Config keys (camelCase, no namespace) from the connection flags. */
  config: Record<string, string>;
}

/** Splits discover's own flags from the doctor-style ones (which the CLI parses). */
export function splitDiscoverArgs(argv: string[]): { own: Omit<DiscoverArgs, "config" | "json" | "cwd">; rest: string[] } {
  const own: Omit<DiscoverArgs, "config" | "json" | "cwd"> = { servers: [], print: false, force: false };
  const rest: string[] = [];
  for (const { arg: a, flag, value } of readArgs(argv, (flag) => new DiscoverError(`${flag} needs a value`))) {
    if (flag === "--servers") {
      const v = value();
      own.servers = v.trim().toLowerCase() === "all" ? "all" : v.split(",").map((s) => s.trim()).filter(Boolean);
    } else if (flag === "--site") own.site = value();
    else if (flag === "--print") own.print = true;
    else if (flag === "--force") own.force = true;
    else if (flag === "--stack" || flag === "-s" || flag === "--no-stack" || flag === "--asa-password-stdin") {
      throw new DiscoverError(`${flag}: discover reads no stack and no ASA password; it proposes the stack file from what the servers and AD hold`);
    } else if (flag === "--asa-ou") own.asaOu = value();
    else if (flag === "--extra-spn-name" || flag === "--dns-address") {
      throw new DiscoverError(`${flag}: discover reads it from the rollout; edit the stack file afterwards to change it`);
    } else rest.push(a);
  }
  return { own, rest };
}

export interface DiscoverResult {
  proposal: Proposal;
  /** The stack file's text. */
  stackFile: string;
  /** Where it was written (--site), if it was. */
  written?: string;
  /** The secret keys the stack needs set before its first preview (never written by discover). */
  secretsToSet: string[];
}

/** Runs discover (the CLI prints the result). Writes only the stack file, and only with --site. */
export async function runDiscover(a: DiscoverArgs): Promise<DiscoverResult> {
  if (!a.site && !a.print) throw new DiscoverError("give --site NAME (writes the stack file) or --print (prints it)");
  if (a.site !== undefined && !/^[A-Za-z0-9_.-]+$/.test(a.site)) throw new DiscoverError(`--site ${JSON.stringify(a.site)}: a stack name is letters, digits, -, _ and . only`);
  const servers = a.servers === "all" ? "all" : [...a.servers, ...(a.config.servers ? (JSON.parse(a.config.servers) as string[]) : [])];
  if (servers !== "all" && servers.length === 0) throw new DiscoverError("give the Client Access servers: --servers EX1,EX2 (or all)");
  const target = a.site && !a.print ? stackFilePath(path.resolve(a.cwd ?? "."), a.site) : undefined;
  if (target && fs.existsSync(target) && !a.force) throw new DiscoverError(`${target} already exists: discover does not overwrite a stack file (give --force, or --print to compare)`);
  const values: Record<string, string> = {};
  for (const [k, v] of Object.entries(a.config)) values[`${CONFIG_NAMESPACE}:${k}`] = v;
  for (const key of ["ldapBindPassword", "exchangePassword"]) {
    const v = process.env[`EXCHANGE_KERBEROS_${key.replace(/([A-Z])/g, "_$1").toUpperCase()}`];
    if (v) values[`${CONFIG_NAMESPACE}:${key}`] = v;
    registerSecret(v); // kept out of every message discover prints
  }
  configureFromStack(configFromMap(values));
  if (a.asaOu !== undefined && a.config.asaName === undefined) throw new DiscoverError("--asa-ou names the OU of a new computer ASA: give its name with --asa-name too");
  const facts = await readFacts({ ldap: ldapSettings(), exchange: exchangeSettings(), servers, namespace: a.config.namespace, asaName: a.config.asaName, asaOu: a.asaOu });
  const proposal = propose(facts);
  const stackFile = renderStackFile(a.site ?? "<site>", proposal, a.config);
  if (target) {
    fs.mkdirSync(path.dirname(target), { recursive: true });
    fs.writeFileSync(target, stackFile, { flag: a.force ? "w" : "wx" });
  }
  // exchangeUser in the file without exchangePassword in the stack: preview refuses both (settings.ts).
  const secretsToSet = ["ldapBindPassword", ...(a.config.exchangeUser !== undefined ? ["exchangePassword"] : [])];
  return { proposal, stackFile, written: target, secretsToSet };
}

/** The report a person reads. */
export function formatDiscoverReport(r: DiscoverResult, site: string | undefined): string {
  const p = r.proposal;
  const s = p.site;
  const lines = [
    `discover: ${s.namespace} on ${s.servers.join(", ")}; ASA ${s.asaName} in ${s.asaOu} (msDS-SupportedEncryptionTypes ${s.asaEncryptionTypes}); SPNs HTTP/${[s.namespace, ...s.extraSpnNames].join(", HTTP/")}; ${s.dnsZone ? `A record in ${s.dnsZone}: ${(s.dnsAddresses ?? []).join(", ")}` : "DNS left out"}`,
  ];
  if (p.findings.length) {
    lines.push("", "inconsistencies (the doctor's codes; the proposal follows the majority):");
    for (const f of p.findings) lines.push(`  ${f.code}  ${f.subject}: ${f.cause}. up: ${f.upWill}`);
  }
  lines.push("", "the first `pulumi up` of this config:");
  p.plan.forEach((line, i) => lines.push(`  ${i + 1}. ${line}`));
  lines.push("and takes over, unchanged:", ...p.unchanged.map((u) => `  - ${u}`));
  if (r.written) {
    lines.push(
      "",
      `wrote ${r.written} (no password in it). Next, in the project folder:`,
      `  pulumi stack init ${site}`,
      ...r.secretsToSet.map((k) => `  pulumi config set --secret ${CONFIG_NAMESPACE}:${k}`),
      "  pulumi preview      # every resource is a create in a new stack: the ones above change something, the rest adopt as is",
      "  pulumi up",
      `  npx pulumi-exchange-kerberos doctor --stack ${site}`,
    );
  }
  return lines.join("\n");
}
