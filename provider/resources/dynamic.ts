// The one way our resources talk to Pulumi's dynamic-provider host.
//
// Pulumi serializes a dynamic resource's provider object into state and replays that stored code
// for `read`, `update` and `delete`. So the serialized object must capture nothing heavy, live
// (clients, sessions) or secret, and must load the real implementation by package name at call
// time: upgrading the package then upgrades what old state runs. Each method below captures only
// the resource's type token and the version that wrote it, and hands over to `providerCall`.
import * as pulumi from "@pulumi/pulumi";
import { checkProjectLoadsThisPackage, PACKAGE_VERSION } from "../package-install";
import { configureFromStack, ConfigSource } from "../settings";
import { exitWhenEngineGone } from "../engine-watch";
import { recordProviderCall } from "../stats";
import { noteProgramRuns, useCurrentConfig } from "../current-config";
import { typeOfRelease01Export } from "./release-0-1";
export { CheckFailures } from "../check-failures";
import { CheckFailures } from "../check-failures";
import { BOOKKEEPING_INPUTS, carryRecordedMarks, recordedInputs, rememberDeleted, rememberRecorded } from "./lifecycle";
import { noteHeld, noteReleased } from "../stack-state";

export type { ResourceImpl } from "./resource-impl";
import type { ResourceImpl } from "./resource-impl";

/**
 * A provider whose every method requires the package by name and hands over to `providerCall`,
 * which finds the implementation by `type` (the resource's type token, such as
 * `exchange-kerberos:DnsRecord`) in the registry. The closures capture that one string; everything
 * else, including the cleaning below, is package code: an upgrade changes what old state runs,
 * and moving or renaming a file changes nothing in any stack (ARCHITECTURE.md, "State").
 */
export function thinProvider(type: string): pulumi.dynamic.ResourceProvider {
  checkProjectLoadsThisPackage();
  // One object per resource type: Pulumi caches a provider's serialized code per object, so a new
  // object for every resource would serialize the same closures again for each one.
  let provider = thinProviders.get(type);
  if (!provider) {
    provider = makeThinProvider(type);
    thinProviders.set(type, provider);
  }
  return provider;
}

const thinProviders = new Map<string, pulumi.dynamic.ResourceProvider>();

function makeThinProvider(type: string): pulumi.dynamic.ResourceProvider {
  const writer = PACKAGE_VERSION;
  const call = (method: Method, args: unknown[]) => providerPackage(writer).providerCall(type, method, args);
  return {
    configure: async (req) => providerPackage(writer).providerConfigure(req.config),
    check: async (olds, news) => call("check", [olds, news]),
    diff: async (id, olds, news) => call("diff", [id, olds, news]),
    create: async (inputs) => call("create", [inputs]),
    read: async (id, props) => call("read", [id, props]),
    update: async (id, olds, news) => call("update", [id, olds, news]),
    delete: async (id, props) => call("delete", [id, props]),
  };
}

/** What the stored code calls: each method resolves to its own result type (CheckResult, DiffResult…). */
type StoredEntry = { providerCall(type: string, method: Method, args: unknown[]): Promise<any>; providerConfigure: typeof providerConfigure };

/**
 * Stored in state with the closures above (Pulumi serializes what they call), so it may use only
 * its argument, `require` and globals: loads the package by name from the directory the engine
 * starts the provider in (the program's), and when that cannot run state `writer` wrote (not
 * installed there, or an older version: 0.1.0 has no `providerCall`), says which version to install.
 */
function providerPackage(writer: string): StoredEntry {
  const name = "pulumi-exchange-kerberos";
  const cwd = process.cwd();
  const refuse = (cause: string): never => {
    const fs = require("fs");
    const path = require("path");
    let project = cwd;
    while (!fs.existsSync(path.join(project, "Pulumi.yaml")) && path.dirname(project) !== project) project = path.dirname(project);
    const error = new Error(`this resource was written by ${name} ${writer}; ${cause}. Fix: run npm install ${name}@^${writer} in ${fs.existsSync(path.join(project, "Pulumi.yaml")) ? project : cwd} (by that name, in the project's own package.json: Pulumi runs each resource's stored code from there, for refresh and destroy too)`);
    // The provider host prints `${e}: ${e.stack}` before the engine shows the message: once is
    // enough, as for the package's own errors (expectSdkPrint).
    const print = console.error;
    console.error = (...values: unknown[]) => {
      if (values.length === 1 && values[0] === `${error}: ${error.stack}`) console.error = print;
      else print(...values);
    };
    throw error;
  };
  let installed: string;
  let pkg: { providerCall?: unknown; providerConfigure?: unknown };
  try {
    installed = String(require(`${name}/package.json`).version);
    pkg = require(name);
  } catch (e) {
    return refuse(`${cwd} cannot load it (${String(e instanceof Error ? e.message : e).split("\n")[0]})`);
  }
  const [major, minor] = installed.split(".").map(Number);
  const [wMajor, wMinor] = writer.split(".").map(Number);
  if (major < wMajor || (major === wMajor && minor < wMinor) || typeof pkg.providerCall !== "function" || typeof pkg.providerConfigure !== "function") {
    return refuse(`${cwd} loads ${installed}, which cannot run it`);
  }
  return pkg as StoredEntry;
}

/** The provider's `configure`: the stack's config, read by settings.ts. */
export function providerConfigure(config: ConfigSource): void {
  exitWhenEngineGone();
  configureFromStack(config);
}

/** What the engine sends for a value not known yet (an output of a resource still to be created). */
export const UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9";

/** Whether a value is, or holds anywhere inside it, a value not known yet. */
export function containsUnknown(value: unknown): boolean {
  if (value === UNKNOWN) return true;
  if (Array.isArray(value)) return value.some(containsUnknown);
  if (value !== null && typeof value === "object") return Object.values(value).some(containsUnknown);
  return false;
}

/** The top-level inputs that are, or hold, values not known yet. */
export function unknownKeys(inputs: Record<string, unknown>): Set<string> {
  return new Set(Object.keys(inputs).filter((k) => containsUnknown(inputs[k])));
}

/**
 * `diff` when some new inputs are not known yet (only at preview: an input that is the output of a
 * resource being created or changed). Those inputs count as changed, replacing where `replaceKeys`
 * says; the rest is diffed as usual, with the unknown inputs standing at their old values. The
 * plan then says update or replace as `up` will, and never fails on a placeholder.
 */
export async function diffWithUnknowns(
  impl: Pick<ResourceImpl, "diff" | "replaceKeys">,
  id: string,
  olds: Record<string, unknown>,
  news: Record<string, unknown>,
): Promise<pulumi.dynamic.DiffResult> {
  const all = unknownKeys(news);
  // A bookkeeping input not known yet (lifecycle.ts) changes nothing: it stands at its old value.
  const unknown = new Set([...all].filter((k) => !BOOKKEEPING_INPUTS.has(k)));
  const standIn = { ...news, ...Object.fromEntries([...all].map((k) => [k, olds[k]])) };
  if (unknown.size === 0) return impl.diff(id, olds, standIn);
  let known: pulumi.dynamic.DiffResult;
  try {
    known = await impl.diff(id, olds, standIn);
  } catch {
    // An old value the diff cannot read (a state written before the input existed): the known part
    // is then unknown too, and the resource is planned as updated.
    known = { changes: true, replaces: [] };
  }
  const replaces = [...new Set([...(known.replaces ?? []), ...[...unknown].filter((k) => impl.replaceKeys.includes(k))])];
  return { ...known, changes: true, replaces, deleteBeforeReplace: replaces.length > 0 && Boolean(known.deleteBeforeReplace) };
}

/**
 * Drops `undefined` (the provider host's protobuf Struct conversion rejects it: "Unexpected struct
 * type"), keeping Buffers out of the question: our state holds only JSON values.
 */
export function plain<T>(value: T): T {
  return value === undefined ? value : (JSON.parse(JSON.stringify(value)) as T);
}

export type Method = Exclude<keyof ResourceImpl, "replaceKeys">;

/** One provider method of `impl`, cleaned and counted: what `providerCall` runs for a registered
 * type (and the benchmark's no-op baseline for its own, unregistered one). */
export async function runProviderMethod(impl: ResourceImpl, type: string, method: Method, args: unknown[]): Promise<unknown> {
  try {
    return await callImpl(impl, type, method, args);
  } catch (e) {
    if (SDK_PRINTS.has(method)) expectSdkPrint(e);
    throw e;
  } finally {
    recordProviderCall(type, method);
  }
}

// Each error once, on one line. For check, diff, read and delete, the Node dynamic-provider host
// (@pulumi/pulumi/cmd/dynamic-provider) prints `${e}: ${e.stack}` to stderr before handing the
// error to the engine, which prints its message again: "UnreachableError: X: UnreachableError: X"
// and a stack trace, on refresh and destroy. The engine's line already says everything (object,
// cause, fix), so that one print of exactly an error we threw is dropped, unless the engine runs
// the provider verbosely (`pulumi … -v=9 --logflow` passes -v=9), when the stack is what was asked for.
export const SDK_PRINTS: ReadonlySet<Method> = new Set<Method>(["check", "diff", "read", "delete"]);
/** The prints to drop, with how many times each is due (two calls can fail with the same text). */
const expectedPrints = new Map<string, number>();
let filterInstalled = false;

function verbose(): boolean {
  return process.argv.some((a) => /^-v=[1-9]/.test(a) || a === "--logtostderr");
}

export function expectSdkPrint(e: unknown): void {
  if (verbose() || !(e instanceof Error)) return;
  const text = `${e}: ${e.stack}`;
  expectedPrints.set(text, (expectedPrints.get(text) ?? 0) + 1);
  if (filterInstalled) return;
  filterInstalled = true;
  const print = console.error.bind(console);
  console.error = (...values: unknown[]) => {
    const due = values.length === 1 && typeof values[0] === "string" ? expectedPrints.get(values[0]) : undefined;
    if (due !== undefined) {
      if (due > 1) expectedPrints.set(values[0] as string, due - 1);
      else expectedPrints.delete(values[0] as string);
      return;
    }
    print(...values);
  };
}

/** A resource's URN as its state recorded it (`resourceUrn`, see owner.ts). */
function recordedUrn(props: unknown): unknown {
  return typeof props === "object" && props !== null ? (props as Record<string, unknown>).resourceUrn : undefined;
}

/** Outputs keep the resource's URN and full stack name from its inputs (for messages, the current
 * config and the stack's state: current-config.ts, stack-state.ts). */
function withUrn(outs: unknown, from: unknown): unknown {
  const urn = recordedUrn(from);
  if (typeof outs !== "object" || outs === null || typeof urn !== "string" || Object.keys(outs).length === 0) return outs;
  const stack = (from as Record<string, unknown>).pulumiStack;
  return { ...(outs as Record<string, unknown>), resourceUrn: urn, ...(typeof stack === "string" ? { pulumiStack: stack } : {}) };
}

/**
 * The entry point of the closures release 0.1.0 wrote into state (a module path and an export
 * name): the same call, by the resource type the export names. Keep this file's path and this
 * function while such stacks may exist.
 */
export function dispatch(_modulePath: string, exportName: string, method: Method, args: unknown[]): Promise<unknown> {
  // By the package's name, as today's stored code calls in (providerPackage): providerCall lives
  // above the registry (provider-call.ts), which this file must not import.
  return providerPackage(PACKAGE_VERSION).providerCall(typeOfRelease01Export(exportName), method, args);
}

/** `exchange-kerberos:DnsRecord` → `DnsRecord`, as state's type tokens end. */
function shortType(type: string): string {
  return type.split(":").pop() ?? type;
}

async function callImpl(impl: ResourceImpl, type: string, method: Method, args: unknown[]): Promise<unknown> {
  if (method === "check") noteProgramRuns();
  else if (method !== "create") useCurrentConfig(args[1]);
  switch (method) {
    case "check": {
      const [olds, declared] = args as [Record<string, unknown>, Record<string, unknown>];
      rememberRecorded(declared, olds ?? {});
      const news = carryRecordedMarks(declared, olds ?? {});
      // During preview, inputs that are outputs of resources not yet created are unknown: their
      // values are checked when they are known (at `up`), not refused now.
      const unknown = unknownKeys(news);
      const known = Object.fromEntries(Object.entries(news).filter(([k]) => !unknown.has(k)));
      const r = await impl.check(olds, known);
      const failures = (r.failures ?? []).filter((f) => !unknown.has(f.property));
      const inputs = { ...(plain(r.inputs) ?? known), ...Object.fromEntries([...unknown].map((k) => [k, UNKNOWN])) };
      return failures.length ? { inputs: news, failures } : { inputs };
    }
    case "diff": {
      const [id, olds, news] = args as [string, Record<string, unknown>, Record<string, unknown>];
      // A resource the engine replaces because one it depends on is replaced delete-first is diffed,
      // deleted and then checked as a new one: its state seen here is what that check recognises.
      rememberRecorded(news ?? {}, olds ?? {});
      return diffWithUnknowns(impl, id, olds, news);
    }
    case "create": {
      const r = await impl.create(args[0]);
      const outs = plain(withUrn(r.outs, args[0])) as Record<string, unknown>;
      noteHeld((args[0] as Record<string, unknown>)?.resourceUrn, shortType(type), outs ?? {});
      return { ...r, outs };
    }
    case "read": {
      const r = await impl.read(...(args as [string, any]));
      return { ...r, props: plain(withUrn(r.props, args[1])), inputs: plain(r.inputs) };
    }
    case "update": {
      const r = await impl.update(...(args as [string, any, any]));
      const outs = plain(withUrn(r.outs, args[2])) as Record<string, unknown>;
      noteHeld((args[2] as Record<string, unknown>)?.resourceUrn, shortType(type), outs ?? {});
      return { ...r, outs };
    }
    case "delete": {
      await impl.delete(...(args as [string, any]));
      noteReleased(recordedUrn(args[1]));
      rememberDeleted((args[1] ?? {}) as Record<string, unknown>);
      return undefined;
    }
  }
}

/**
 * A create that failed after it may have changed something: the engine records the resource with
 * these properties (Pulumi's "initialization error", which Node dynamic providers report through an
 * error carrying `id` and `properties`), so the next `up` updates it from what we knew, such as the
 * settings found before we changed them, instead of creating it again from scratch.
 */
export function partialCreate(cause: unknown, id: string, properties: object): Error {
  const message = cause instanceof Error ? cause.message : String(cause);
  return Object.assign(new Error(message), { id, properties: plain(properties), reasons: [message] });
}


/**
 * The shape of every resource's `check`: validate offline collecting every failure; then run the
 * read-only checks that ask the directory or Exchange (`online`), so that `pulumi preview` refuses
 * what cannot work before anything changes. `online` runs when offline validation passed, or failed
 * only on properties absent from `news` (at preview, values not known yet: `dispatch` drops those
 * failures, and `online` skips what needs them, finding those fields undefined). `online` gets the
 * inputs state recorded (empty for a new resource; for the engine's second check of a replacement,
 * those the first check saw: lifecycle.ts): what the stack already manages is not refused.
 * Returns the normalized inputs on success.
 */
export async function checkInputs<T extends object>(
  news: Record<string, unknown>,
  validate: (news: Record<string, unknown>, failures: CheckFailures) => T,
  online?: (inputs: T, failures: CheckFailures, olds: Record<string, unknown>) => Promise<void>,
  olds: Record<string, unknown> = {},
): Promise<pulumi.dynamic.CheckResult> {
  const f = new CheckFailures();
  const inputs = validate(news, f);
  // A failure's property may be nested (internalUrls.owa): what counts is its top-level input.
  const known = f.failures.every((x) => news[x.property.split(/[.[]/)[0]] === undefined);
  if (known && online) await online(inputs, f, recordedInputs(news, olds ?? {}));
  return f.failures.length ? { inputs: news, failures: f.failures } : { inputs: { ...news, ...inputs } };
}
