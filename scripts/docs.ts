// The parts of docs/ that the code already says, generated from the code (npm run docs), so they
// cannot drift from it: the settings (provider/setting-keys.ts), the error codes
// (provider/error-codes.ts), the doctor's codes (provider/doctor/codes.ts), the commands' usage
// (provider/cli.ts, drift), and each resource's inputs, outputs and replacing inputs (its Args
// interface and class in provider/resources/, its runtime half's replaceKeys). Each lives between
// markers in a hand-written page:
//   <!-- BEGIN GENERATED name: npm run docs writes this part -->
//   …
//   <!-- END GENERATED name -->
// `scripts/docs` rewrites those parts; `scripts/docs --check` lists the parts that differ (exit 1).
// test/unit/docs.test.ts makes the same comparison.
import * as fs from "node:fs";
import * as path from "node:path";
import * as ts from "typescript";
import { ERROR_CODES } from "../provider/error-codes";
import { DOCTOR_CODES } from "../provider/doctor/codes";
import { SETTINGS, SettingKey, settingKeys, SettingScope, SettingSpec } from "../provider/setting-keys";
import { implementationOf } from "../provider/resources/registry";
import { USAGE } from "../provider/cli";
import { DRIFT_USAGE } from "../provider/drift";

const ROOT = path.resolve(__dirname, "..", "..");

export interface Region {
  /** Relative to the repository root. */
  file: string;
  name: string;
  text: string;
}

/** A Markdown table cell: one line, pipes escaped. */
function cell(s: string): string {
  return s.replace(/\s*\n\s*/g, " ").replace(/\|/g, "\\|").trim();
}

function table(head: string[], rows: string[][]): string {
  return [`| ${head.join(" | ")} |`, `|${head.map(() => "---").join("|")}|`, ...rows.map((r) => `| ${r.map(cell).join(" | ")} |`)].join("\n");
}

function defaultOf(s: SettingSpec): string {
  if (s.required) return "required";
  if (s.defaultText !== undefined) return s.defaultText;
  return s.default === undefined ? "none" : `\`${String(s.default)}\``;
}

function settingsTable(scope: SettingScope): string {
  return table(["Key", "Default", "Meaning"], settingKeys(scope).map((k: SettingKey) => {
    const s: SettingSpec = SETTINGS[k];
    return [`\`${k}\`${s.secret ? " (secret)" : ""}`, defaultOf(s), s.meaning];
  }));
}

// ---- resources: from their TypeScript sources ----

interface Member {
  name: string;
  type: string;
  optional: boolean;
  doc: string;
}

/** `pulumi.Input<pulumi.Input<string>[]>` → `string[]`: what a user writes, without the SDK's wrappers. */
function unwrap(type: string): string {
  for (;;) {
    const m = /pulumi\.(Input|Output)</.exec(type);
    if (!m) return type.replace(/\s+/g, " ");
    let depth = 0;
    let end = m.index + m[0].length;
    for (; end < type.length; end++) {
      if (type[end] === "<") depth++;
      else if (type[end] === ">") {
        if (depth === 0) break;
        depth--;
      }
    }
    type = type.slice(0, m.index) + type.slice(m.index + m[0].length, end) + type.slice(end + 1);
  }
}

function docOf(node: ts.Node): string {
  return ts.getJSDocCommentsAndTags(node)
    .filter(ts.isJSDoc)
    .map((d) => ts.getTextOfJSDocComment(d.comment) ?? "")
    .join(" ")
    .trim();
}

function parse(file: string): ts.SourceFile {
  return ts.createSourceFile(file, fs.readFileSync(path.join(ROOT, file), "utf8"), ts.ScriptTarget.ES2022, true);
}

function membersOf(source: ts.SourceFile, name: string): Member[] {
  const out: Member[] = [];
  const visit = (node: ts.Node) => {
    if ((ts.isInterfaceDeclaration(node) || ts.isClassDeclaration(node)) && node.name?.text === name) {
      for (const m of node.members) {
        if (!(ts.isPropertySignature(m) || ts.isPropertyDeclaration(m)) || !m.name || !ts.isIdentifier(m.name)) continue;
        const mods = ts.canHaveModifiers(m) ? (ts.getModifiers(m) ?? []) : [];
        if (mods.some((x) => x.kind === ts.SyntaxKind.PrivateKeyword || x.kind === ts.SyntaxKind.ProtectedKeyword || x.kind === ts.SyntaxKind.StaticKeyword)) continue;
        out.push({ name: m.name.text, type: unwrap(m.type?.getText(source) ?? "unknown"), optional: m.questionToken !== undefined, doc: docOf(m) });
      }
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  if (out.length === 0) throw new Error(`${source.fileName}: no members found for ${name}`);
  return out;
}

/** The text of an exported type alias (for KerberosRolloutAsaArgs = Pick<…>). */
function aliasOf(source: ts.SourceFile, name: string): string | undefined {
  let text: string | undefined;
  const visit = (node: ts.Node) => {
    if (ts.isTypeAliasDeclaration(node) && node.name.text === name) text = node.type.getText(source);
    ts.forEachChild(node, visit);
  };
  visit(source);
  return text;
}

export interface ResourceDoc {
  /** The class, which is also the type token's last part. */
  name: string;
  /** Its source, relative to the repository root. */
  source: string;
  /** Its page, relative to the repository root. */
  page: string;
}

export const RESOURCE_DOCS: ResourceDoc[] = [
  ["DnsRecord", "dns-record"],
  ["AsaComputerAccount", "asa-computer-account"],
  ["AsaPassword", "asa-password"],
  ["Spn", "spn"],
  ["ExchangeVirtualDirectoryUrls", "exchange-virtual-directory-urls"],
  ["AsaBinding", "asa-binding"],
  ["OutlookAnywhereAuth", "outlook-anywhere-auth"],
  ["KdcProxyServer", "kdc-proxy-server"],
].map(([name, file]) => ({ name, source: `provider/resources/${file}.ts`, page: `docs/resources/${file}.md` }));

const COMPONENT: ResourceDoc = { name: "KerberosRollout", source: "provider/components/kerberos-rollout.ts", page: "docs/resources/kerberos-rollout.md" };

function inputsTable(members: Member[]): string {
  return table(["Input", "Type", "Required", "Description"], members.map((m) => [`\`${m.name}\``, `\`${m.type}\``, m.optional ? "no" : "yes", m.doc]));
}

/** What every resource's `drift` output is (resources/*: each read fills it). */
const DRIFT_DOC = "what the last read found against what was declared, one line per difference (the drift command reports them)";

/** Every documented member of every interface in the file: an output's doc when its class member has none. */
function docsIn(source: ts.SourceFile): Map<string, string> {
  const docs = new Map<string, string>();
  const visit = (node: ts.Node) => {
    if (ts.isInterfaceDeclaration(node)) {
      for (const m of node.members) {
        const doc = docOf(m);
        if (doc && m.name && ts.isIdentifier(m.name) && !docs.has(m.name.text)) docs.set(m.name.text, doc);
      }
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return docs;
}

function outputsTable(outputs: Member[], inputs: Member[], docs: Map<string, string>): string {
  const byName = new Map(inputs.map((m) => [m.name, m]));
  return table(["Output", "Type", "Description"], outputs.map((m) => {
    const input = byName.get(m.name);
    const doc = m.doc || (m.name === "drift" ? DRIFT_DOC : input ? `the input ${m.name}, as applied${input.doc ? `: ${input.doc}` : ""}` : (docs.get(m.name) ?? ""));
    return [`\`${m.name}\``, `\`${m.type}\``, doc];
  }));
}

function resourceRegions(r: ResourceDoc): Region[] {
  const source = parse(r.source);
  const inputs = membersOf(source, `${r.name}Args`);
  const replaceKeys = implementationOf(`exchange-kerberos:${r.name}`).replaceKeys;
  return [
    { file: r.page, name: "inputs", text: inputsTable(inputs) },
    { file: r.page, name: "outputs", text: outputsTable(membersOf(source, r.name), inputs, docsIn(source)) },
    {
      file: r.page,
      name: "replaces",
      text: `A change of ${replaceKeys.map((k) => `\`${k}\``).join(", ")} replaces the resource (the engine plans a delete and a create); a change of any other input updates it in place.`,
    },
  ];
}

function componentRegions(): Region[] {
  const source = parse(COMPONENT.source);
  const regions: Region[] = [
    { file: COMPONENT.page, name: "inputs", text: inputsTable(membersOf(source, "KerberosRolloutArgs")) },
    { file: COMPONENT.page, name: "dns-inputs", text: inputsTable(membersOf(source, "KerberosRolloutDnsArgs")) },
    { file: COMPONENT.page, name: "kdc-proxy-inputs", text: inputsTable(membersOf(source, "KerberosRolloutKdcProxyArgs")) },
    { file: COMPONENT.page, name: "outputs", text: outputsTable(membersOf(source, COMPONENT.name), [], docsIn(source)) },
  ];
  const asa = aliasOf(source, "KerberosRolloutAsaArgs");
  if (!asa) throw new Error("KerberosRolloutAsaArgs not found");
  regions.push({ file: COMPONENT.page, name: "asa-inputs", text: `\`asa\` takes these inputs of [AsaComputerAccount](asa-computer-account.md#inputs): \`${asa}\`.` });
  return regions;
}

/** Every generated part of docs/, as the code says it now. */
export function generatedRegions(): Region[] {
  const fence = (text: string) => `\`\`\`text\n${text}\n\`\`\``;
  return [
    { file: "docs/installation-configuration.md", name: "settings-site", text: settingsTable("site") },
    { file: "docs/installation-configuration.md", name: "settings-connection", text: settingsTable("connection") },
    { file: "docs/installation-configuration.md", name: "settings-doctor", text: settingsTable("doctor") },
    { file: "docs/reference/error-codes.md", name: "error-codes", text: table(["Code", "Cause"], Object.entries(ERROR_CODES).map(([c, m]) => [`\`${c}\``, m])) },
    { file: "docs/reference/doctor.md", name: "doctor-codes", text: table(["Code", "Meaning"], Object.entries(DOCTOR_CODES).map(([c, m]) => [`\`${c}\``, m])) },
    { file: "docs/reference/cli.md", name: "usage", text: fence(USAGE) },
    { file: "docs/reference/cli.md", name: "drift-usage", text: fence(DRIFT_USAGE) },
    ...RESOURCE_DOCS.flatMap(resourceRegions),
    ...componentRegions(),
  ];
}

const begin = (name: string) => `<!-- BEGIN GENERATED ${name}: npm run docs writes this part -->`;
const end = (name: string) => `<!-- END GENERATED ${name} -->`;

/** The file's text with the region replaced, or an error naming what is missing. */
export function withRegion(text: string, r: Region): string {
  const from = text.indexOf(begin(r.name));
  const to = text.indexOf(end(r.name));
  if (from < 0 || to < from) throw new Error(`${r.file}: no ${begin(r.name)} … ${end(r.name)} markers`);
  return `${text.slice(0, from)}${begin(r.name)}\n${r.text}\n${text.slice(to)}`;
}

/** The generated files as they should read, from what is on disk. */
export function expectedFiles(): Map<string, string> {
  const files = new Map<string, string>();
  for (const r of generatedRegions()) {
    const current = files.get(r.file) ?? fs.readFileSync(path.join(ROOT, r.file), "utf8");
    files.set(r.file, withRegion(current, r));
  }
  return files;
}

function main(argv: string[]): number {
  const check = argv.includes("--check");
  const stale: string[] = [];
  for (const [file, text] of expectedFiles()) {
    const full = path.join(ROOT, file);
    if (fs.readFileSync(full, "utf8") === text) continue;
    stale.push(file);
    if (!check) fs.writeFileSync(full, text);
  }
  if (check && stale.length) {
    process.stderr.write(`docs: generated parts differ from the code in ${stale.join(", ")}: run npm run docs\n`);
    return 1;
  }
  process.stdout.write(stale.length ? `docs: ${check ? "" : "rewrote "}${stale.join(", ")}\n` : "docs: up to date\n");
  return 0;
}

if (require.main === module) process.exit(main(process.argv.slice(2)));
