// A static reader for the PowerShell our operations module is written in, for machines without
// PowerShell: a tokenizer that fails on what the PowerShell parser fails on for this subset
// (unterminated strings, here-strings and block comments, unbalanced (), {}, [], stray closers),
// and a command extractor that finds every command call with its named parameters, and every
// function with its param() block. Quote characters follow the language spec §2.3.5.2: ' and
// U+2018..U+201B are single quotes, " and U+201C..U+201E double quotes.
export interface Token {
  kind: "word" | "param" | "string" | "var" | "open" | "close" | "end" | "op";
  text: string;
  line: number;
  /** Nesting depth: an opener is recorded at the depth outside it, a closer at the depth after it
   * (so an opener and its closer have the same depth). */
  depth: number;
}

export class PowerShellSyntaxError extends Error {}

const SQ = "'\u2018\u2019\u201a\u201b";
const DQ = '"\u201c\u201d\u201e';
const isSq = (ch: string | undefined) => ch !== undefined && ch.length === 1 && SQ.includes(ch);
const isDq = (ch: string | undefined) => ch !== undefined && ch.length === 1 && DQ.includes(ch);
const CLOSER: Record<string, string> = { "(": ")", "{": "}", "[": "]", "$(": ")", "@(": ")", "@{": "}" };
const WORD = /[A-Za-z0-9_.\\:\-*?/%]/;

export function tokenize(src: string): Token[] {
  const tokens: Token[] = [];
  const stack: { open: string; line: number }[] = [];
  let i = 0;
  let line = 1;
  const push = (kind: Token["kind"], text: string) => tokens.push({ kind, text, line, depth: stack.length });
  const fail = (msg: string, at = line): never => {
    throw new PowerShellSyntaxError(`line ${at}: ${msg}`);
  };
  while (i < src.length) {
    const c = src[i];
    const next = src[i + 1] ?? "";
    if (c === "\n") {
      push("end", "\n");
      line++;
      i++;
    } else if (c === " " || c === "\t" || c === "\r" || c === "\ufeff") {
      i++;
    } else if (c === "`") {
      // Escape outside strings: a backtick before the newline continues the line.
      if (next === "\n") line++;
      i += 2;
    } else if (c === "<" && next === "#") {
      const end = src.indexOf("#>", i + 2);
      if (end < 0) fail("block comment <# is never closed with #>");
      line += (src.slice(i, end).match(/\n/g) ?? []).length;
      i = end + 2;
    } else if (c === "#") {
      while (i < src.length && src[i] !== "\n") i++;
    } else if (c === "@" && (isSq(next) || isDq(next)) && /^[ \t]*\r?\n/.test(src.slice(i + 2))) {
      // Here-string: the closing quote+@ must start a line.
      const start = line;
      const closes = isSq(next) ? isSq : isDq;
      let j = src.indexOf("\n", i) + 1;
      line++;
      for (;;) {
        if (j <= 0 || j >= src.length) fail(`here-string @${next} is never closed (the closing ${next}@ must start a line)`, start);
        if (closes(src[j]) && src[j + 1] === "@") break;
        const nl = src.indexOf("\n", j);
        if (nl < 0) fail(`here-string @${next} is never closed`, start);
        j = nl + 1;
        line++;
      }
      push("string", src.slice(i, j + 2));
      i = j + 2;
    } else if (isSq(c) || isDq(c)) {
      // 'verbatim' (only a doubled quote escapes) or "expandable" (a backtick escapes too).
      const closes = isSq(c) ? isSq : isDq;
      const backtick = isDq(c);
      const start = line;
      let j = i + 1;
      for (;;) {
        if (j >= src.length) fail("string is never closed", start);
        if (backtick && src[j] === "`") {
          j += 2;
          continue;
        }
        if (closes(src[j])) {
          if (closes(src[j + 1])) {
            j += 2;
            continue;
          }
          break;
        }
        if (src[j] === "\n") line++;
        j++;
      }
      push("string", src.slice(i, j + 1));
      i = j + 1;
    } else if ((c === "$" || c === "@") && (next === "(" || (c === "@" && next === "{"))) {
      push("open", c + next);
      stack.push({ open: c + next, line });
      i += 2;
    } else if (c === "$") {
      if (next === "{") {
        const end = src.indexOf("}", i);
        if (end < 0) fail("${ variable is never closed");
        push("var", src.slice(i, end + 1));
        i = end + 1;
      } else {
        const m = /^\$(?:[A-Za-z_][A-Za-z0-9_]*:)?[A-Za-z0-9_?^$]+/.exec(src.slice(i));
        if (!m) fail("$ without a variable name");
        push("var", m![0]);
        i += m![0].length;
      }
    } else if (c === "(" || c === "{" || c === "[") {
      push("open", c);
      stack.push({ open: c, line });
      i++;
    } else if (c === ")" || c === "}" || c === "]") {
      const top = stack.pop();
      if (!top) fail(`${c} closes nothing`);
      if (CLOSER[top!.open] !== c) fail(`${c} closes ${top!.open} opened on line ${top!.line}`);
      push("close", c);
      i++;
    } else if (c === ";" || c === "|") {
      push("end", c);
      i++;
    } else if (c === "-" && /[A-Za-z]/.test(next) && !WORD.test(src[i - 1] ?? " ")) {
      const m = /^-[A-Za-z][A-Za-z0-9_]*:?/.exec(src.slice(i))!;
      push("param", m[0].replace(/:$/, ""));
      i += m[0].length;
    } else if (WORD.test(c)) {
      let j = i;
      while (j < src.length && WORD.test(src[j])) j++;
      push("word", src.slice(i, j));
      i = j;
    } else {
      push("op", c);
      i++;
    }
  }
  if (stack.length > 0) {
    const top = stack[stack.length - 1];
    fail(`${top.open} opened on line ${top.line} is never closed`, top.line);
  }
  return tokens;
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
  line: number;
}

export interface ModuleAnalysis {
  tokens: Token[];
  functions: Map<string, FunctionDef>;
  calls: CommandCall[];
}

const COMMAND_NAME = /^[A-Za-z]+-[A-Za-z]+$/;
/** A command name in command position: at the start of a statement, a pipeline element or a group. */
function commandPosition(prev: Token | undefined): boolean {
  if (!prev) return true;
  if (prev.kind === "end" || prev.kind === "open") return true;
  if (prev.kind === "op" && (prev.text === "=" || prev.text === "&")) return true;
  return prev.kind === "word" && /^(return|throw)$/i.test(prev.text);
}

export function analyzeModule(src: string): ModuleAnalysis {
  const tokens = tokenize(src);
  const functions = new Map<string, FunctionDef>();
  // Function extents: from the body's { to its matching }.
  const extents: { name: string; from: number; to: number }[] = [];
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i];
    if (t.kind !== "word" || t.text.toLowerCase() !== "function") continue;
    const name = tokens[i + 1];
    const body = tokens[i + 2];
    if (!name || name.kind !== "word" || !body || body.text !== "{") throw new PowerShellSyntaxError(`line ${t.line}: function without a name and a body`);
    let j = i + 3;
    while (j < tokens.length && !(tokens[j].kind === "close" && tokens[j].depth === body.depth)) j++;
    extents.push({ name: name.text, from: i + 2, to: j });
    const params: string[] = [];
    let k = i + 3;
    while (k < j && tokens[k].kind === "end") k++;
    if (tokens[k]?.kind === "word" && tokens[k].text.toLowerCase() === "param" && tokens[k + 1]?.text === "(") {
      const d = tokens[k + 1].depth + 1;
      for (let m = k + 2; m < j && !(tokens[m].kind === "close" && tokens[m].depth === d - 1); m++) {
        if (tokens[m].kind === "var" && tokens[m].depth === d) params.push(tokens[m].text.slice(1));
      }
    }
    functions.set(name.text.toLowerCase(), { name: name.text, params, line: t.line });
  }
  const calls: CommandCall[] = [];
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i];
    if (t.kind !== "word" || !COMMAND_NAME.test(t.text)) continue;
    const prev = tokens[i - 1];
    if (prev?.kind === "word" && prev.text.toLowerCase() === "function") continue;
    if (!commandPosition(prev)) continue;
    const params: string[] = [];
    for (let j = i + 1; j < tokens.length; j++) {
      const u = tokens[j];
      if (u.depth < t.depth || (u.depth === t.depth && u.kind === "end")) break;
      if (u.kind === "param" && u.depth === t.depth) params.push(u.text.slice(1));
    }
    const owner = extents.filter((e) => i > e.from && i < e.to).sort((a, b) => b.from - a.from)[0];
    calls.push({ name: t.text, params, line: t.line, inFunction: owner?.name ?? "" });
  }
  return { tokens, functions, calls };
}

export interface CatalogCmdlet {
  doc: string;
  versions?: string[];
  parameterSets: Record<string, string[]>;
}
export interface Catalog {
  exchange: Record<string, CatalogCmdlet>;
  powershell: Record<string, CatalogCmdlet>;
}

/** Every problem with the module's commands: unknown cmdlets, unknown parameters, mixed parameter sets. */
export function checkAgainstCatalog(a: ModuleAnalysis, catalog: Catalog): string[] {
  const problems: string[] = [];
  const lookup = (name: string): CatalogCmdlet | undefined => {
    const hit = Object.keys({ ...catalog.exchange, ...catalog.powershell }).find((k) => k.toLowerCase() === name.toLowerCase());
    return hit ? (catalog.exchange[hit] ?? catalog.powershell[hit]) : undefined;
  };
  for (const c of a.calls) {
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
