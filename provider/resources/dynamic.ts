// The one way our resources talk to Pulumi's dynamic-provider host.
//
// Pulumi serializes a dynamic resource's provider object into state and replays that stored code
// for `read`, `update` and `delete`. So the serialized object must capture nothing heavy, live
// (clients, sessions) or secret, and must load the real implementation by package name at call
// time: upgrading the package then upgrades what old state runs. Each method below captures only
// two strings and hands over to `dispatch`.
import * as pulumi from "@pulumi/pulumi";
import { InvalidInputError } from "../errors";
import { recordProviderCall } from "../stats";

/** The runtime half of a resource, exported from its own file and loaded inside the provider. */
export interface ResourceImpl {
  /**
   * The inputs whose change replaces the resource (the same ones `diff` puts in `replaces`). At
   * preview an input may be unknown (an output of a resource still to change): `diff` then plans
   * a replace for these and an update for any other, as `up` will do once the value is known.
   */
  readonly replaceKeys: readonly string[];
  check(olds: any, news: any): Promise<pulumi.dynamic.CheckResult>;
  diff(id: string, olds: any, news: any): Promise<pulumi.dynamic.DiffResult>;
  create(inputs: any): Promise<pulumi.dynamic.CreateResult>;
  read(id: string, props: any): Promise<pulumi.dynamic.ReadResult>;
  update(id: string, olds: any, news: any): Promise<pulumi.dynamic.UpdateResult>;
  delete(id: string, props: any): Promise<void>;
}

/**
 * A provider whose every method requires this module by package name and calls `dispatch`, which
 * loads the `ResourceImpl` exported as `exportName` from `modulePath` (a
 * `pulumi-exchange-kerberos/dist/...` path). The closures capture two strings; everything else —
 * including the cleaning below — is package code, so an upgrade changes what old state runs.
 */
export function thinProvider(modulePath: string, exportName: string): pulumi.dynamic.ResourceProvider {
  // One object per resource type: Pulumi caches a provider's serialized code per object, so a new
  // object for every resource would serialize the same closures again for each one.
  const key = `${modulePath}#${exportName}`;
  let provider = thinProviders.get(key);
  if (!provider) {
    provider = makeThinProvider(modulePath, exportName);
    thinProviders.set(key, provider);
  }
  return provider;
}

const thinProviders = new Map<string, pulumi.dynamic.ResourceProvider>();

function makeThinProvider(modulePath: string, exportName: string): pulumi.dynamic.ResourceProvider {
  return {
    configure: async (req) => {
      require("pulumi-exchange-kerberos/dist/provider/settings").configureFromStack(req.config);
    },
    check: async (olds, news) => require("pulumi-exchange-kerberos/dist/provider/resources/dynamic").dispatch(modulePath, exportName, "check", [olds, news]),
    diff: async (id, olds, news) => require("pulumi-exchange-kerberos/dist/provider/resources/dynamic").dispatch(modulePath, exportName, "diff", [id, olds, news]),
    create: async (inputs) => require("pulumi-exchange-kerberos/dist/provider/resources/dynamic").dispatch(modulePath, exportName, "create", [inputs]),
    read: async (id, props) => require("pulumi-exchange-kerberos/dist/provider/resources/dynamic").dispatch(modulePath, exportName, "read", [id, props]),
    update: async (id, olds, news) => require("pulumi-exchange-kerberos/dist/provider/resources/dynamic").dispatch(modulePath, exportName, "update", [id, olds, news]),
    delete: async (id, props) => require("pulumi-exchange-kerberos/dist/provider/resources/dynamic").dispatch(modulePath, exportName, "delete", [id, props]),
  };
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
  const unknown = unknownKeys(news);
  if (unknown.size === 0) return impl.diff(id, olds, news);
  const standIn = { ...news, ...Object.fromEntries([...unknown].map((k) => [k, olds[k]])) };
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

type Method = Exclude<keyof ResourceImpl, "replaceKeys">;

/** Runs one provider method of one resource: the single entry point of every serialized closure. */
export async function dispatch(modulePath: string, exportName: string, method: Method, args: unknown[]): Promise<unknown> {
  try {
    return await callImpl(modulePath, exportName, method, args);
  } finally {
    recordProviderCall(exportName, method);
  }
}

async function callImpl(modulePath: string, exportName: string, method: Method, args: unknown[]): Promise<unknown> {
  const impl = (require(modulePath) as Record<string, ResourceImpl>)[exportName];
  if (!impl) throw new Error(`${modulePath} exports no ${exportName}: reinstall pulumi-exchange-kerberos`);
  switch (method) {
    case "check": {
      const [olds, news] = args as [Record<string, unknown>, Record<string, unknown>];
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
      return diffWithUnknowns(impl, id, olds, news);
    }
    case "create": {
      const r = await impl.create(args[0]);
      return { ...r, outs: plain(r.outs) };
    }
    case "read": {
      const r = await impl.read(...(args as [string, any]));
      return { ...r, props: plain(r.props), inputs: plain(r.inputs) };
    }
    case "update": {
      const r = await impl.update(...(args as [string, any, any]));
      return { ...r, outs: plain(r.outs) };
    }
    case "delete":
      return impl.delete(...(args as [string, any]));
  }
}

/** `check` result helper: collects failures as { property, reason } with the fix in the reason. */
export class CheckFailures {
  readonly failures: pulumi.dynamic.CheckFailure[] = [];
  private firstError?: Error;

  add(property: string, reason: string): void {
    this.failures.push({ property, reason });
    this.firstError ??= new InvalidInputError(property, reason);
  }

  /** Runs `fn`, turning an InvalidInputError (or any Error) into a failure on `property`. */
  guard(property: string, fn: () => void): void {
    try {
      fn();
    } catch (e) {
      const error = e instanceof Error ? e : new Error(String(e));
      // The engine prints "<property>: <reason>": a reason that already names the field would
      // name it twice.
      const reason = e instanceof InvalidInputError && e.field === property ? error.message.slice(property.length + 2) : error.message;
      this.failures.push({ property, reason });
      this.firstError ??= error;
    }
  }

  /** Past `check` (create, update, diff): the first failure, thrown as it was raised. */
  throwFirst(): void {
    if (this.firstError) throw this.firstError;
  }
}

/**
 * The shape of every resource's `check`: validate offline collecting every failure; only when that
 * passes, run the checks that ask the directory or Exchange (`online`), so that `pulumi preview`
 * refuses what cannot work before anything changes. Returns the normalized inputs on success.
 */
export async function checkInputs<T extends object>(
  news: Record<string, unknown>,
  validate: (news: Record<string, unknown>, failures: CheckFailures) => T,
  online?: (inputs: T, failures: CheckFailures) => Promise<void>,
): Promise<pulumi.dynamic.CheckResult> {
  const f = new CheckFailures();
  const inputs = validate(news, f);
  if (!f.failures.length && online) await online(inputs, f);
  return f.failures.length ? { inputs: news, failures: f.failures } : { inputs: { ...news, ...inputs } };
}
