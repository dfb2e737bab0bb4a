// What `pulumi preview --refresh --expect-no-changes --json` says drifted, as findings: one per thing
// that differs (a resource's read can report several, e.g. the ASA both disabled and RC4-only).
//
// What the engine gives for our dynamic resources (pulumi 3.260, checked by hand and by
// test/e2e/drift.test.ts): the JSON's `steps` carry no `diffReasons` or `detailedDiff` (the dynamic
// provider's diff returns neither), so the declared → found pairs come from the resources
// themselves: every `read` records what it found against what was declared in its `drift` output
// ("EX1 owa.internalUrl: declared A, found B"), which the refresh step puts in the update step's
// `oldState.outputs`. A resource the refresh found gone shows as a `create` step, one found but no
// longer declared as a `delete`. Secret values are "[secret]" in this JSON; a finding never
// carries a value of a secret property (a reset password reads "changed").
export interface DriftChange {
  /** The resource's name (last part of its URN), such as `berlin-asa`. */
  resource: string;
  /** Its type without the dynamic prefix: `AsaComputerAccount`, `Spn`… */
  type: string;
  /** What the next `pulumi up` would do about it. */
  op: "create" | "update" | "replace" | "delete";
  /** One line: what changed, declared → found. */
  change: string;
  /** The line comes from what the resource's read found (its `drift` output), not from the plan alone. */
  found: boolean;
}

export interface PreviewStep {
  op?: unknown;
  urn?: unknown;
  oldState?: { type?: unknown; inputs?: Record<string, unknown>; outputs?: Record<string, unknown> };
  newState?: { type?: unknown; inputs?: Record<string, unknown>; outputs?: Record<string, unknown> };
}

const OPS: Record<string, DriftChange["op"]> = {
  create: "create",
  update: "update",
  replace: "replace",
  "create-replacement": "replace",
  delete: "delete",
};

/** Keys that never count as declared settings (bookkeeping of the dynamic provider). */
const BOOKKEEPING = new Set(["__provider", "resourceUrn", "drift", "owner", "accountOwner", "adopt", "packageVersion"]);

function typeOf(step: PreviewStep, urn: string): string {
  const t = String(step.newState?.type ?? step.oldState?.type ?? urn.split("::")[2] ?? "");
  return t.replace(/^.*[:/]/, "");
}

const show = (v: unknown): string => (v === undefined ? "(none)" : typeof v === "string" ? v : JSON.stringify(v));
const isSecret = (v: unknown): boolean => v === "[secret]" || (typeof v === "object" && v !== null && "4dabf18193072939515e22adb298388d" in v);

/** A read's drift line as "what: declared → found" where its wording allows. */
export function normalizeDrift(line: string): string {
  let m = /^(.*?):? declared (.*?), found (.*)$/.exec(line);
  if (m) return `${m[1]}: ${m[2]} → ${m[3]}`;
  m = /^values are (.*?); declared (.*)$/.exec(line);
  if (m) return `values: ${m[2]} → ${m[1]}`;
  m = /^TTL is (.*?); declared (.*)$/.exec(line);
  if (m) return `TTL: ${m[2]} → ${m[1]}`;
  m = /^(.*) changed from (.*) to (.*)$/.exec(line);
  if (m) return `${m[1]}: ${m[2]} → ${m[3]}`;
  m = /^moved from (.*) to (.*)$/.exec(line);
  if (m) return `DN: ${m[1]} → ${m[2]}`;
  if (line === "account disabled") return "account: enabled → disabled";
  m = /^(?:password reset by someone else|the ASA's password was set by someone else) at (\S+)/.exec(line);
  if (m) return `password: changed (set by someone else at ${m[1]}; the Exchange servers hold the declared one)`;
  return line;
}

/** Declared inputs that differ from what was found, for a step whose resource recorded no drift. */
function inputDiff(step: PreviewStep): string[] {
  const declared = step.newState?.inputs ?? {};
  const found = step.oldState?.outputs ?? {};
  const out: string[] = [];
  for (const [k, v] of Object.entries(declared)) {
    if (BOOKKEEPING.has(k) || !(k in found)) continue;
    const f = found[k];
    if (isSecret(v) || isSecret(f)) continue; // cannot be compared here, and never shown
    if (JSON.stringify(v) !== JSON.stringify(f)) out.push(`${k}: ${show(v)} → ${show(f)}`);
  }
  return out;
}

/** What the declared resource is, for a create (gone) or delete (not declared) step. */
function identity(state: PreviewStep["newState"]): string {
  const i = state?.inputs ?? {};
  for (const k of ["spn", "server", "name", "fqdn"]) if (typeof i[k] === "string") return `${k} ${i[k] as string}`;
  return "";
}

/** The findings of one preview's JSON (its parsed `steps`). */
export function driftFromPreview(steps: PreviewStep[]): DriftChange[] {
  const found: DriftChange[] = [];
  for (const step of steps) {
    const op = OPS[String(step.op)];
    const urn = String(step.urn ?? "");
    if (!op || urn === "" || typeOf(step, urn) === "Stack" || urn.includes("pulumi:providers:")) continue;
    const resource = urn.split("::").pop() ?? urn;
    const type = typeOf(step, urn);
    const add = (change: string, read = false): void => void found.push({ resource, type, op, change, found: read });
    if (op === "create") {
      const what = identity(step.newState);
      add(`${what ? `${what}: ` : ""}declared → not found (gone, or moved out of the stack's reach)`, true);
      continue;
    }
    if (op === "delete") {
      const what = identity(step.oldState);
      add(`${what ? `${what}: ` : ""}not declared → found`, true);
      continue;
    }
    const recorded = step.oldState?.outputs?.drift;
    const lines = Array.isArray(recorded) ? recorded.filter((l): l is string => typeof l === "string") : [];
    if (lines.length > 0) {
      for (const l of lines) add(normalizeDrift(l), true);
      continue;
    }
    const changes = inputDiff(step);
    if (changes.length === 0) changes.push("declared settings differ from what was found (a secret, or a setting read only at up)");
    for (const c of changes) add(c);
  }
  return found;
}

/** A diagnostic of the preview's JSON digest, as pulumi 3.260 writes it (display.PreviewDiagnostic). */
export interface PreviewDiagnostic {
  urn?: unknown;
  message?: unknown;
  severity?: unknown;
}

/**
 * The preview's errors that mean the check could not run: a resource that could not be read (the
 * engine reports a failed step as "Preview failed: …"), the program or the engine failing. With
 * `--json` the engine puts these in the digest's diagnostics, not on stderr, and exits non-zero as
 * it does for "changes were proposed", so they are told apart here. A `check` refusal ("… has a
 * problem: …", the engine's wording for CheckFailures) is not one of them: it is a change made by
 * hand that the preview refuses to plan (an SPN another account now holds), which the doctor names.
 */
export function previewFailures(diagnostics: PreviewDiagnostic[]): string[] {
  return diagnostics
    .filter((d) => d.severity === "error" && typeof d.message === "string")
    .map((d) => (d.message as string).trim().replace(/^error: /, "")) // the digest keeps the severity's prefix
    .filter((m) => m !== "" && !/^\S+ resource '[^']*'(: property [\s\S]* value [\s\S]*)? has a problem: /.test(m));
}

/** A resource whose `check` refused it (the engine's "… has a problem: …"): its URN and the cause. */
export interface CheckRefusal {
  urn: string;
  cause: string;
}

const REFUSAL = /^\S+ resource '[^']*'(?:: property [\s\S]*? value [\s\S]*?)? has a problem: ([\s\S]*)$/;

/**
 * The resources the preview refused at `check`: a change made by hand that no up can plan (an SPN
 * another account now holds). The engine stops planning at the first one, so every resource
 * registered after it has no step: drift plans again without the refused ones (`--exclude`).
 */
export function checkRefusals(diagnostics: PreviewDiagnostic[]): CheckRefusal[] {
  const out: CheckRefusal[] = [];
  for (const d of diagnostics) {
    if (d.severity !== "error" || typeof d.message !== "string" || typeof d.urn !== "string" || d.urn === "") continue;
    const m = REFUSAL.exec(d.message.trim().replace(/^error: /, ""));
    if (m) out.push({ urn: d.urn, cause: m[1].replace(/\s*\n\s*/g, " ").replace(/\. Fix: .*$/, "").trim() });
  }
  return out;
}

/** A refused resource as a finding: what the preview refuses, in its own words. */
export function refusalChange(r: CheckRefusal): DriftChange {
  const type = (r.urn.split("::")[2] ?? "").replace(/^.*[:/]/, "");
  return { resource: r.urn.split("::").pop() ?? r.urn, type, op: "update", change: `the preview refuses it: ${r.cause}`, found: true };
}

/** Resource types a rotation plans as updates (the ASA's password, every binding, AD's password). */
const ROTATION_TYPES = new Set(["AsaComputerAccount", "AsaBinding", "AsaPassword"]);

/**
 * The rotation a maximum age makes the preview plan, or one under way that it finishes
 * (asa-password-rotation.ts): the ASA's check puts why into its checked inputs
 * (`passwordRotation`), at preview only. Returns that line and the ASA's resource name, or undefined.
 */
export function plannedRotation(steps: PreviewStep[]): { why: string; resource: string } | undefined {
  for (const step of steps) {
    const why = step.newState?.inputs?.passwordRotation;
    if (typeof why === "string" && why !== "") return { why, resource: String(step.urn ?? "").split("::").pop() ?? "" };
  }
  return undefined;
}

/** Whether a change is part of that rotation: an update of the ASA, a binding or AD's password that
 * no read found changed by hand. */
export function partOfRotation(c: DriftChange): boolean {
  return c.op === "update" && !c.found && ROTATION_TYPES.has(c.type);
}
