// The stack file `discover` writes: where the project keeps its stack files (Pulumi.yaml's
// stackConfigDir, examples/ in this repository), and the YAML itself. It holds connection settings
// given as flags and the proposed site settings, never a password: passwords are set afterwards
// with `pulumi config set --secret`, which encrypts them.
import * as fs from "node:fs";
import * as path from "node:path";
import { CONFIG_NAMESPACE, SSH_TRANSPORT_KEYS } from "../settings";
import { DiscoverError, Proposal } from "./propose";

/** Connection keys `discover` copies from its flags into the stack file (none of them secret). */
export const CONNECTION_KEYS = [
  "ldapUrl",
  "ldapCaFile",
  "gcUrl",
  "ldapBindUser",
  "ldapStartTls",
  "krb5Config",
  "kerberosUser",
  "kerberosKdc",
  "dnsServer",
  "httpsCaFile",
  "httpsCheck",
  "exchangeShell",
  "exchangeConnection",
  "exchangeEndpoint",
  "exchangeAuthentication",
  "exchangeUser",
  ...SSH_TRANSPORT_KEYS,
] as const;

/** `dir/Pulumi.<site>.yaml`, where dir is the project's stackConfigDir (else the project dir). */
export function stackFilePath(projectDir: string, site: string): string {
  const project = path.join(projectDir, "Pulumi.yaml");
  if (!fs.existsSync(project)) throw new DiscoverError(`no Pulumi.yaml in ${projectDir}: run discover in the project folder, or give --cwd DIR`);
  const m = /^stackConfigDir:\s*["']?([^"'\n#]+?)["']?\s*(#.*)?$/m.exec(fs.readFileSync(project, "utf8"));
  return path.join(projectDir, m ? m[1].trim() : "", `Pulumi.${site}.yaml`);
}

/** A YAML scalar: plain when unambiguous, else single-quoted ('' for a quote). */
function scalar(v: string): string {
  return /^[A-Za-z0-9_./@-][A-Za-z0-9_./@:=, -]*$/.test(v) && !/: |[ ,]$/.test(v) && !/^(true|false|null|yes|no|on|off|~|[-+]?[0-9.]+)$/i.test(v) ? v : `'${v.replace(/'/g, "''")}'`;
}

/** The site's stack file: the connection settings given, the proposed site settings, adopt. */
export function renderStackFile(site: string, proposal: Proposal, connection: Record<string, string>): string {
  const s = proposal.site;
  const entries: [string, string][] = [];
  for (const k of CONNECTION_KEYS) if (connection[k] !== undefined) entries.push([k, connection[k]]);
  entries.push(["namespace", s.namespace], ["servers", JSON.stringify(s.servers)]);
  if (s.dnsZone !== undefined) entries.push(["dnsZone", s.dnsZone], ["dnsAddresses", JSON.stringify(s.dnsAddresses ?? [])]);
  if (s.dnsTtl !== undefined) entries.push(["dnsTtl", String(s.dnsTtl)]);
  entries.push(["asaName", s.asaName], ["asaOu", s.asaOu], ["asaEncryptionTypes", String(s.asaEncryptionTypes)]);
  if (s.extraSpnNames.length > 0) entries.push(["extraSpnNames", JSON.stringify(s.extraSpnNames)]);
  entries.push(["adopt", "true"]);
  const comment = [
    `# Site ${site}, proposed by \`pulumi-exchange-kerberos discover\` from the rollout it found. No password`,
    "# is kept here: set the bind password with pulumi config set --secret exchange-kerberos:ldapBindPassword.",
    "# The first `pulumi up` rotates the ASA's password (its current one cannot be read): servers first, AD last.",
    ...proposal.plan.map((p) => `#   up: ${p}`),
  ];
  return `${comment.join("\n")}\nconfig:\n${entries.map(([k, v]) => `  ${CONFIG_NAMESPACE}:${k}: ${scalar(v)}`).join("\n")}\n`;
}
