// What each resource does over Pulumi's whole lifecycle, in one place (docs/reference/lifecycle.md):
//
// - Destroy. An object the stack CREATED is deleted (settings it changed are put back); an object it
//   ADOPTED (found existing at create) is RELEASED: the stack stops managing it and leaves it
//   working as it is, unless `onDestroy: delete` asks for deletion. Which one it was is recorded in
//   state by create (`origin`) and read from there at delete, never guessed. State written before
//   `origin` existed keeps the earlier behaviour (delete), and preview says so once, naming the key.
// - Replacement. The engine checks a replacement's inputs a second time with no old inputs (and a
//   resource it replaces because one it depends on is replaced delete-first, it diffs, deletes and
//   then checks as new); the first check or diff of the same resource (same URN, same provider
//   process) saw its state, so that is kept here and handed to the later check: what the stack
//   manages is never refused as someone else's.
// - Bookkeeping inputs (the URN, the stack's full name, owner marks, the package version, the ASA's
//   origin for its bindings) say where a resource stands, not what it declares: unknown at preview,
//   they never make a change, and no diff compares them.
import { ConflictError, InvalidInputError, warn } from "../errors";
import { holderInState, stackOf } from "../stack-state";
import { CONFIG_NAMESPACE } from "../settings";

export type OnDestroy = "release" | "delete";
export type Origin = "created" | "adopted";

/** The `onDestroy` input: what destroy does with an object the stack adopted. */
export function onDestroyInput(field: string, value: unknown): OnDestroy | undefined {
  if (value === undefined || value === null || value === "") return undefined;
  if (value === "release" || value === "delete") return value;
  throw new InvalidInputError(
    field,
    `${JSON.stringify(value)} is not release or delete`,
    "give release (the default: an object that existed before the stack is left as it is on destroy) or delete (destroy deletes it too)",
    { code: "VALUE_NOT_ALLOWED" },
  );
}

/** The `origin` a create records, from whether the object was there before it. */
export function originOf(existed: boolean): Origin {
  return existed ? "adopted" : "created";
}

/** What state recorded as `origin`, if it is one. */
export function recordedOrigin(value: unknown): Origin | undefined {
  return value === "created" || value === "adopted" ? value : undefined;
}

/**
 * Whether destroy releases (leaves as it is) rather than deletes the object state describes:
 * adopted and not `onDestroy: delete`; for state from before `origin` was recorded, only when the
 * user asked for release explicitly (it cannot tell what the stack created).
 */
export function releasedOnDestroy(props: { origin?: unknown; onDestroy?: unknown }): boolean {
  if (props.onDestroy === "delete") return false;
  const origin = recordedOrigin(props.origin);
  if (origin === undefined) return props.onDestroy === "release";
  return origin === "adopted";
}

let legacyNoted = false;

/**
 * Called by every diff: state that records no origin was written by an earlier release, whose
 * destroy deleted even what existed before the stack. Said once per run, at preview.
 */
export function noteLegacyOrigin(olds: { origin?: unknown; onDestroy?: unknown }): void {
  if (legacyNoted || recordedOrigin(olds.origin) !== undefined || olds.onDestroy !== undefined) return;
  legacyNoted = true;
  warn(
    "this stack was deployed by an earlier release, which did not record which objects existed before it: pulumi destroy deletes every object it manages, as that release did, including a record, an ASA or SPNs that were there before the stack",
    `to leave those that existed before in place instead, set pulumi config set ${CONFIG_NAMESPACE}:onDestroy release and run pulumi up (destroy then releases every object the stack manages but does not delete it)`,
  );
}

// ---- the first check of a replacement ----------------------------------------------------------

const recordedByUrn = new Map<string, Record<string, unknown>>();

/** A URN without its stack and project, which a rename or a move rewrites (stack-state.ts). */
function urnKey(urn: unknown): string | undefined {
  return typeof urn === "string" ? urn.replace(/^urn:pulumi:[^:]*::[^:]*::/, "") : undefined;
}

/** The first `check` (or `diff`) of a resource in state: what state recorded, kept for a second check. */
export function rememberRecorded(news: Record<string, unknown>, olds: Record<string, unknown>): void {
  const key = urnKey(news.resourceUrn);
  if (key !== undefined && Object.keys(olds).length > 0) recordedByUrn.set(key, { ...recordedByUrn.get(key), ...olds });
}

/**
 * The inputs state recorded for this resource: `olds` when the engine passed them, else those the
 * first check of the same resource saw in this process (the engine's second check of a
 * replacement carries none), else nothing (a new resource).
 */
export function recordedInputs(news: Record<string, unknown>, olds: Record<string, unknown> | undefined): Record<string, unknown> {
  if (olds && Object.keys(olds).length > 0) return olds;
  const key = urnKey(news.resourceUrn);
  return (key !== undefined ? recordedByUrn.get(key) : undefined) ?? {};
}

// ---- bookkeeping inputs ---------------------------------------------------------------------------

/** Inputs that say where a resource stands, not what it declares (see the header). */
export const BOOKKEEPING_INPUTS: ReadonlySet<string> = new Set(["resourceUrn", "pulumiStack", "owner", "accountOwner", "accountOrigin", "recordOrigin", "packageVersion"]);

// ---- taking an object that is already there ----------------------------------------------------

/**
 * Before a create carries on with an object that is already there (its own mark after a lost
 * answer, or adopt): refused when another resource of the stack still holds it in state
 * (stack-state.ts). `holds` says, from a resource's recorded outputs, whether it is this object.
 */
export function refuseIfHeld(inputs: { pulumiStack?: unknown; resourceUrn?: unknown }, type: string, what: string, holds: (outputs: Record<string, unknown>) => boolean): void {
  const holder = holderInState(stackOf(inputs), type, holds);
  if (holder === undefined) return;
  throw new ConflictError(
    `${what} is held by ${holder} in this stack's state, and this run deletes that resource after this create: taking it over now would leave it deleted`,
    "let the replacement delete first (deleteBeforeReplace, the default of this package's resources: remove a deleteBeforeReplace: false), or, for a resource renamed in the program, give it an alias of its old name",
    { code: "HELD_BY_ANOTHER_RESOURCE" },
  );
}

/** The keys create records about an object's origin, kept by every update and read. */
export function keptOrigin(olds: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const k of ["origin", "markFound"]) if (olds[k] !== undefined) out[k] = olds[k];
  return out;
}

/** The owner marks state recorded (owner.ts): a later run keeps them, whatever the stack is called now. */
export function carryRecordedMarks(news: Record<string, unknown>, olds: Record<string, unknown>): Record<string, unknown> {
  const carried = { ...news };
  for (const k of ["owner", "accountOwner"]) {
    if (typeof olds[k] === "string" && (olds[k] as string).startsWith("pulumi-exchange-kerberos owner ") && typeof news[k] === "string") carried[k] = olds[k];
  }
  return carried;
}

// ---- a replacement ordered delete-first ----------------------------------------------------------

const deletedByUrn = new Map<string, Record<string, unknown>>();

/** A delete of this process: its props, for a create of the same resource later in the run. */
export function rememberDeleted(props: Record<string, unknown>): void {
  const key = urnKey(props?.resourceUrn);
  if (key !== undefined) deletedByUrn.set(key, props);
}

/**
 * The state of the resource this create replaces, when the replacement deleted it first in this run
 * (same resource, so the same URN): what it found before the stack (`originals`) and whether it
 * adopted (`origin`) still hold for the object, which a release left as it was.
 */
export function replacedProps(news: Record<string, unknown>): Record<string, unknown> | undefined {
  const key = urnKey(news.resourceUrn);
  return key !== undefined ? deletedByUrn.get(key) : undefined;
}
