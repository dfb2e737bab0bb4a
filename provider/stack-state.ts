// Which resource of this stack holds an object, from the stack's own state.
//
// A create that finds its object already there (its own owner mark after a lost answer, or `adopt`)
// carries on with it. That is wrong when another resource of the same stack still holds that object
// in state and will delete it later in the same run: a replacement ordered create-first (a forced
// `--replace`, `state taint`, or `deleteBeforeReplace: false`), or a resource renamed without an
// alias. The create would take the object over and the old resource's delete would then remove it.
// So before taking an existing object, a create asks the state: `pulumi stack export` of the stack
// the resource was declared in (its recorded full name), once per provider process, kept current
// with the creates and deletes this process makes. The export reads state and takes no lock.
import { spawnSync } from "child_process";
import { warn } from "./errors";

interface Held {
  urn: string;
  /** The resource type token's last part (AsaComputerAccount). */
  type: string;
  outputs: Record<string, unknown>;
}

let exported: Held[] | undefined | null;
const createdHere = new Map<string, Held>();
const deletedHere = new Set<string>();

/** A URN without its stack and project: a rename or a move rewrites those, and a resource's recorded
 * URN may predate it. */
function key(urn: string): string {
  return urn.replace(/^urn:pulumi:[^:]*::[^:]*::/, "");
}

function typeOf(token: unknown): string {
  return typeof token === "string" ? (token.split(":").pop() ?? "") : "";
}

function readState(stack: string): Held[] | null {
  const r = spawnSync("pulumi", ["stack", "export", "--stack", stack, "--non-interactive"], { encoding: "utf8", timeout: 60_000, env: process.env, maxBuffer: 256 * 1024 * 1024 });
  if (r.status !== 0 || r.error) {
    const why = (r.error?.message ?? r.stderr ?? "").split("\n").find((l) => l.trim() !== "")?.trim() ?? `exit ${r.status}`;
    warn(`could not read stack ${stack}'s state (${why}), so a create that finds its object already there cannot tell whether another resource of the stack still holds it`);
    return null;
  }
  const state = JSON.parse(r.stdout) as { deployment?: { resources?: { urn?: string; type?: string; outputs?: Record<string, unknown> }[] } };
  return (state.deployment?.resources ?? [])
    .filter((x) => typeof x.urn === "string")
    .map((x) => ({ urn: x.urn as string, type: typeOf(x.type), outputs: x.outputs ?? {} }));
}

/** The stack a resource was declared in: its recorded full name, else the one in its URN. */
export function stackOf(inputs: { pulumiStack?: unknown; resourceUrn?: unknown }): string | undefined {
  if (typeof inputs.pulumiStack === "string" && inputs.pulumiStack !== "") return inputs.pulumiStack;
  const m = typeof inputs.resourceUrn === "string" ? /^urn:pulumi:([^:]+)::/.exec(inputs.resourceUrn) : null;
  return m?.[1];
}

/**
 * The URN of the resource of type `type` in the stack's state whose outputs `holds`; undefined when
 * none does, or when the state cannot be read (said once, as a warning). The resource being created
 * counts too: under its own URN, state holds only an old resource that this run replaces later.
 */
export function holderInState(stack: string | undefined, type: string, holds: (outputs: Record<string, unknown>) => boolean): string | undefined {
  const find = (): string | undefined => {
    const all = new Map<string, Held>();
    for (const h of exported ?? []) all.set(key(h.urn), h);
    for (const [k, h] of createdHere) all.set(k, h);
    for (const k of deletedHere) all.delete(k);
    for (const h of all.values()) if (h.type === type && holds(h.outputs)) return h.urn;
    return undefined;
  };
  if (exported === undefined) exported = stack ? readState(stack) : null;
  if (find() === undefined) return undefined;
  // A hit in a copy read earlier in this run may be stale (a resource the engine dropped from state
  // without our delete: retainOnDelete): read the state again before refusing.
  if (stack && exported) exported = readState(stack);
  return find();
}

/** A create or update of this process: the resource now holds what `outputs` say. */
export function noteHeld(urn: unknown, type: string, outputs: Record<string, unknown>): void {
  if (typeof urn !== "string") return;
  deletedHere.delete(key(urn));
  createdHere.set(key(urn), { urn, type, outputs });
}

/** A delete of this process: the resource holds nothing any more. */
export function noteReleased(urn: unknown): void {
  if (typeof urn !== "string") return;
  createdHere.delete(key(urn));
  deletedHere.add(key(urn));
}
