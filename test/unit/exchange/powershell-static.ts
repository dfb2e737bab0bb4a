// A static reader for the PowerShell our operations module is written in, for machines without
// PowerShell: a real PowerShell grammar (tree-sitter-powershell, run by web-tree-sitter as
// WebAssembly: no native module) parses the module; every syntax error it finds fails the check,
// and from its tree we take every command invocation with its named parameters and every function
// with its param() block, to check them against the cmdlet catalog.
import { Language, Node, Parser } from "web-tree-sitter";

export class PowerShellSyntaxError extends Error {}

let parser: Promise<Parser> | undefined;

function powershellParser(): Promise<Parser> {
  parser ??= (async () => {
    await Parser.init();
    const language = await Language.load(require.resolve("tree-sitter-powershell/tree-sitter-powershell.wasm"));
    const p = new Parser();
    p.setLanguage(language);
    return p;
  })();
  return parser;
}

/** The first place the grammar could not parse: an ERROR node, or a token it had to assume. */
function firstError(node: Node): Node | undefined {
  if (node.type === "ERROR" || node.isMissing) return node;
  if (!node.hasError) return undefined;
  for (const child of node.children) {
    const hit = child && firstError(child);
    if (hit) return hit;
  }
  return node;
}

/** Parses `src` as PowerShell; throws PowerShellSyntaxError naming the line of the first error. */
export async function parsePowerShell(src: string): Promise<Node> {
  const tree = (await powershellParser()).parse(src);
  if (!tree) throw new PowerShellSyntaxError("the parser returned no tree");
  const bad = firstError(tree.rootNode);
  if (bad) {
    const what = bad.isMissing ? `missing ${bad.type}` : `cannot parse ${JSON.stringify(bad.text.slice(0, 40))}`;
    throw new PowerShellSyntaxError(`line ${bad.startPosition.row + 1}: ${what}`);
  }
  return tree.rootNode;
}

export interface CommandCall {
  name: string;
  params: string[];
  line: number;
  /** The function of the module the call is in ("" at top level). */
  inFunction: string;
}

export interface FunctionDef {
  name: string;
  params: string[];
  /** The attributes on its param block, by name as written (`CmdletBinding` makes it an advanced function). */
  attributes: string[];
  line: number;
}

export interface ModuleAnalysis {
  functions: Map<string, FunctionDef>;
  calls: CommandCall[];
}

function enclosingFunction(node: Node): string {
  for (let n = node.parent; n; n = n.parent) {
    if (n.type === "function_statement") return n.children.find((c) => c?.type === "function_name")?.text ?? "";
  }
  return "";
}

/** The native commands the module may run, read by nativeCall and checked against the catalog's `native`. */
export const NATIVE_COMMANDS = ["netsh"];

/**
 * A native command as a call: `netsh http add urlacl "url=$Url" "user=…"` is the command
 * `netsh http add urlacl` with the parameters url and user. Its context words must be bare; each
 * argument after them must be one "key=value" string (quoted, so PowerShell passes it whole and
 * never reads braces or commas in it): anything else is reported as the parameter `?<text>`.
 */
function nativeCall(name: string, c: Node): { name: string; params: string[] } {
  const args = (c.childForFieldName("command_elements")?.children ?? []).filter((e) => e && e.type !== "command_argument_sep") as Node[];
  const words: string[] = [];
  const params: string[] = [];
  for (const a of args) {
    if (params.length === 0 && a.type === "generic_token" && /^[a-z]+$/.test(a.text)) {
      words.push(a.text);
      continue;
    }
    const m = /^"([a-z]+)=[^"]*"$/.exec(a.text);
    params.push(m ? m[1] : `?${a.text}`);
  }
  return { name: [name, ...words].join(" "), params };
}

/** Every function with its param() block, and every command invocation with its named parameters. */
export async function analyzeModule(src: string): Promise<ModuleAnalysis> {
  const root = await parsePowerShell(src);
  const functions = new Map<string, FunctionDef>();
  for (const f of root.descendantsOfType("function_statement")) {
    if (!f) continue;
    const name = f.children.find((c) => c?.type === "function_name")?.text ?? "";
    // The function's own param block: the one directly in its script block, not a nested one.
    const block = f.children.find((c) => c?.type === "script_block")?.children.find((c) => c?.type === "param_block");
    const params = (block?.descendantsOfType("script_parameter") ?? [])
      .map((p) => p?.children.find((c) => c?.type === "variable")?.text.replace(/^\$/, "") ?? "")
      .filter((p) => p !== "");
    // `[CmdletBinding()] param(...)`: the attribute list is the param block's own child.
    const attributes = (block?.children.find((c) => c?.type === "attribute_list")?.children ?? [])
      .filter((c) => c?.type === "attribute")
      .map((c) => /^\[\s*([A-Za-z.]+)/.exec(c!.text)?.[1] ?? "");
    functions.set(name.toLowerCase(), { name, params, attributes, line: f.startPosition.row + 1 });
  }
  const calls: CommandCall[] = [];
  for (const c of root.descendantsOfType("command")) {
    if (!c) continue;
    const name = c.childForFieldName("command_name")?.text;
    if (name && NATIVE_COMMANDS.includes(name.toLowerCase())) {
      calls.push({ ...nativeCall(name.toLowerCase(), c), line: c.startPosition.row + 1, inFunction: enclosingFunction(c) });
      continue;
    }
    // `& $block`, `. $script`: no name to check.
    if (!name || !/^[A-Za-z]+-[A-Za-z]+$/.test(name)) continue;
    const elements = c.childForFieldName("command_elements");
    const params = (elements?.children ?? [])
      .filter((e) => e?.type === "command_parameter")
      .map((e) => e!.text.replace(/^-/, "").replace(/:$/, ""));
    calls.push({ name, params, line: c.startPosition.row + 1, inFunction: enclosingFunction(c) });
  }
  return { functions, calls };
}

export interface CatalogCmdlet {
  doc: string;
  versions?: string[];
  parameterSets: Record<string, string[]>;
}
/** A native command's documented subcommands (`http add urlacl`) and the keys each takes. */
export interface CatalogNative {
  doc: string;
  commands: Record<string, string[]>;
}

export interface Catalog {
  exchange: Record<string, CatalogCmdlet>;
  powershell: Record<string, CatalogCmdlet>;
  native?: Record<string, CatalogNative>;
}

/** Every problem with the module's commands: unknown cmdlets, unknown parameters, mixed parameter sets. */
export function checkAgainstCatalog(a: ModuleAnalysis, catalog: Catalog): string[] {
  const problems: string[] = [];
  const lookup = (name: string): CatalogCmdlet | undefined => {
    const hit = Object.keys({ ...catalog.exchange, ...catalog.powershell }).find((k) => k.toLowerCase() === name.toLowerCase());
    return hit ? (catalog.exchange[hit] ?? catalog.powershell[hit]) : undefined;
  };
  for (const c of a.calls) {
    const [command, ...words] = c.name.split(" ");
    if (NATIVE_COMMANDS.includes(command.toLowerCase())) {
      const native = catalog.native?.[command.toLowerCase()];
      const keys = native?.commands[words.join(" ")];
      if (!native || !keys) {
        problems.push(`line ${c.line}: ${c.name} is not a ${command} command in exchange-cmdlets.json`);
        continue;
      }
      for (const p of c.params) {
        if (p.startsWith("?")) problems.push(`line ${c.line}: ${c.name} is given ${p.slice(1)}, not one quoted "key=value" argument`);
        else if (!keys.includes(p)) problems.push(`line ${c.line}: ${c.name} has no parameter ${p}= in the catalog (${native.doc})`);
      }
      continue;
    }
    const own = a.functions.get(c.name.toLowerCase());
    if (own) {
      for (const p of c.params) {
        if (!own.params.some((q) => q.toLowerCase() === p.toLowerCase())) problems.push(`line ${c.line}: ${c.name} has no parameter -${p} (its param block: ${own.params.join(", ") || "none"})`);
      }
      continue;
    }
    const def = lookup(c.name);
    if (!def) {
      problems.push(`line ${c.line}: ${c.name} is neither a function of the module nor a cmdlet in exchange-cmdlets.json`);
      continue;
    }
    const all = new Set(Object.values(def.parameterSets).flat().map((p) => p.toLowerCase()));
    const unknown = c.params.filter((p) => !all.has(p.toLowerCase()));
    for (const p of unknown) problems.push(`line ${c.line}: ${c.name} has no parameter -${p} in the catalog (${def.doc})`);
    if (unknown.length === 0 && !Object.values(def.parameterSets).some((set) => c.params.every((p) => set.some((q) => q.toLowerCase() === p.toLowerCase())))) {
      problems.push(`line ${c.line}: ${c.name} -${c.params.join(" -")} combines parameters of different parameter sets (${Object.keys(def.parameterSets).join(", ")})`);
    }
  }
  return problems;
}

/**
 * For each function of the module, the cmdlet calls it makes directly or through the module's
 * other functions, each as `Cmdlet|param,param` (parameters sorted, lower case).
 */
export function reachableCalls(a: ModuleAnalysis, fn: string): Set<string> {
  const out = new Set<string>();
  const seen = new Set<string>();
  const visit = (name: string) => {
    if (seen.has(name.toLowerCase())) return;
    seen.add(name.toLowerCase());
    for (const c of a.calls.filter((x) => x.inFunction.toLowerCase() === name.toLowerCase())) {
      if (a.functions.has(c.name.toLowerCase())) visit(c.name);
      else out.add(callSignature(c.name, c.params));
    }
  };
  visit(fn);
  return out;
}

export function callSignature(cmdlet: string, params: readonly string[]): string {
  return `${cmdlet}|${params.map((p) => p.toLowerCase()).sort().join(",")}`;
}

/** The names of the commands a function of the module calls, directly or through its other functions. */
export function reachableCmdlets(a: ModuleAnalysis, fn: string): Set<string> {
  return new Set([...reachableCalls(a, fn)].map((sig) => sig.slice(0, sig.indexOf("|"))));
}

/** What the static check needs of an operation table entry (provider/exchange/operation-table.ts). */
export interface OperationEntry {
  params: Readonly<Record<string, unknown>>;
  cmdlets: readonly string[];
}

/**
 * Every difference between the module and the operation table: an operation with no function, a
 * function whose param block is not the entry's parameters, an operation calling a cmdlet its
 * entry does not list, or an entry listing one the function never calls.
 */
export function checkAgainstOperationTable(a: ModuleAnalysis, table: Readonly<Record<string, OperationEntry>>): string[] {
  const problems: string[] = [];
  const lower = (xs: Iterable<string>) => [...xs].map((x) => x.toLowerCase()).sort();
  for (const [op, entry] of Object.entries(table)) {
    const fn = a.functions.get(op.toLowerCase());
    if (!fn) {
      problems.push(`${op}: the table declares it, the module has no such function`);
      continue;
    }
    const declared = Object.keys(entry.params);
    if (lower(fn.params).join() !== lower(declared).join()) {
      problems.push(`line ${fn.line}: ${op}'s param block (${fn.params.join(", ") || "none"}) is not the table's parameters (${declared.join(", ")})`);
    }
    const calls = reachableCmdlets(a, op);
    const listed = new Set(lower(entry.cmdlets));
    for (const c of calls) if (!listed.has(c.toLowerCase())) problems.push(`${op} calls ${c}, which its table entry does not list`);
    const called = new Set(lower(calls));
    for (const c of entry.cmdlets) if (!called.has(c.toLowerCase())) problems.push(`${op}: the table lists ${c}, which the function never calls`);
  }
  return problems;
}
