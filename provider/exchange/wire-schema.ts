// The building blocks of the operation table (operation-table.ts): how one parameter or one
// result of an Exchange operation looks as it crosses the PowerShell channel. A parameter spec
// checks a value twice: as the provider passes it (a secret as a Secret) and as it travels (a
// secret sealed, { sealed }), which is what the stand-in checks. A result spec narrows the module's
// answer from `unknown`, with the same coercions PowerShell's JSON needs everywhere (a one-element
// array may arrive unwrapped, an empty string means "not set").
import { ExchangeCommandError } from "./error-mapping";
import { Secret, type Sealed } from "./sealing";

// ---- parameters --------------------------------------------------------------------------------

export type Side = "call" | "wire";

/** A parameter: `Call` is its TypeScript type in the provider, `Wire` its JSON after sealing. */
export interface ParamSpec<Call, Wire = Call, Optional extends boolean = boolean> {
  readonly optional: Optional;
  /** For messages and the static check. */
  readonly describe: string;
  /** The problems with a value (none: it fits); `at` names it, e.g. "Owa.InternalUrl". */
  problems(x: unknown, at: string, side: Side): string[];
  /** Present only for an object parameter: its fields (the static check reads the top level). */
  readonly fields?: ParamFields;
  /** Type-level only, never set. */
  readonly __types?: { call: Call; wire: Wire };
}

export type AnyParam = ParamSpec<unknown, unknown, boolean>;
export type ParamFields = Readonly<Record<string, AnyParam>>;

type CallOf<S> = S extends ParamSpec<infer C, unknown, boolean> ? C : never;
type WireOf<S> = S extends ParamSpec<unknown, infer W, boolean> ? W : never;
type OptionalKeys<F> = { [K in keyof F]: F[K] extends { optional: true } ? K : never }[keyof F];
type RequiredKeys<F> = Exclude<keyof F, OptionalKeys<F>>;
type Flat<T> = { [K in keyof T]: T[K] } & {};

/** The object a set of fields describes, as the provider passes it. */
export type CallRecord<F> = Flat<{ [K in RequiredKeys<F>]: CallOf<F[K]> } & { [K in OptionalKeys<F>]?: CallOf<F[K]> }>;
/** The same as it travels (secrets sealed). */
export type WireRecord<F> = Flat<{ [K in RequiredKeys<F>]: WireOf<F[K]> } & { [K in OptionalKeys<F>]?: WireOf<F[K]> }>;

function leaf<T>(describe: string, fits: (x: unknown) => boolean): ParamSpec<T, T, false> {
  return { optional: false, describe, problems: (x, at) => (fits(x) ? [] : [`${at} must be ${describe}, not ${JSON.stringify(x) ?? "undefined"}`]) };
}

export const param = {
  text: leaf<string>("a string", (x) => typeof x === "string"),
  textOrNull: leaf<string | null>("a string or null", (x) => x === null || typeof x === "string"),
  flag: leaf<boolean>("true or false", (x) => typeof x === "boolean"),
  texts: leaf<string[]>("an array of strings", (x) => Array.isArray(x) && x.every((v) => typeof v === "string")),
  oneOf<const V extends readonly string[]>(...values: V): ParamSpec<V[number], V[number], false> {
    return leaf<V[number]>(`one of ${values.join(", ")}`, (x) => typeof x === "string" && values.includes(x));
  },
  /** Never readable in script text: a Secret in the provider, sealed on the wire (sealing.ts). */
  secret: {
    optional: false,
    describe: "a secret (sealed)",
    problems: (x: unknown, at: string, side: Side) => {
      const fits = side === "call" ? x instanceof Secret : typeof x === "object" && x !== null && !Array.isArray(x) && Object.keys(x).join() === "sealed" && typeof (x as Sealed).sealed === "string";
      return fits ? [] : [`${at} must arrive ${side === "call" ? "as a Secret" : "sealed"}`];
    },
  } as ParamSpec<Secret, Sealed, false>,
  record<const F extends ParamFields>(fields: F): ParamSpec<CallRecord<F>, WireRecord<F>, false> {
    return { optional: false, describe: "an object", fields, problems: (x, at, side) => recordProblems(fields, x, at, side) };
  },
  optional<C, W>(spec: ParamSpec<C, W, false>): ParamSpec<C, W, true> {
    return { ...spec, optional: true };
  },
};

/** The problems with an object against its fields: a field it lacks, one it should not have, a bad value. */
export function recordProblems(fields: ParamFields, x: unknown, at: string, side: Side): string[] {
  const where = (k: string) => (at === "" ? k : `${at}.${k}`);
  if (typeof x !== "object" || x === null || Array.isArray(x)) return [`${at || "the parameters"} must be an object`];
  const o = x as Record<string, unknown>;
  const out: string[] = [];
  // A key whose value is undefined is absent (JSON drops it on the way).
  for (const k of Object.keys(o)) if (o[k] !== undefined && !(k in fields)) out.push(`${where(k)} is not a parameter (${Object.keys(fields).join(", ")})`);
  for (const [k, spec] of Object.entries(fields)) {
    if (o[k] === undefined) {
      if (!spec.optional) out.push(`${where(k)} is missing`);
      continue;
    }
    out.push(...spec.problems(o[k], where(k), side));
  }
  return out;
}

// ---- results -----------------------------------------------------------------------------------

/** Narrows the module's answer from `unknown`; `at` names the place for the error. */
export interface ResultSpec<T> {
  read(x: unknown, at: string): T;
}

export type ResultOfSpec<S> = S extends ResultSpec<infer T> ? T : never;
type ResultFields = Readonly<Record<string, ResultSpec<unknown>>>;

function asObject(x: unknown, at: string): Record<string, unknown> {
  if (typeof x !== "object" || x === null || Array.isArray(x)) throw new ExchangeCommandError(`${at}: expected an object from the operations module`);
  return x as Record<string, unknown>;
}

export const result = {
  /** Text; null or absent is "". */
  text: { read: (x: unknown) => (x === null || x === undefined ? "" : String(x)) } as ResultSpec<string>,
  /** Text, or null when absent or empty (PowerShell's [string]$null is ""). */
  textOrNull: {
    read: (x: unknown) => {
      if (x === null || x === undefined) return null;
      const s = String(x);
      return s === "" ? null : s;
    },
  } as ResultSpec<string | null>,
  /** Only a JSON true is true. */
  flag: { read: (x: unknown) => x === true } as ResultSpec<boolean>,
  /** Non-empty strings; a lone value is a list of one. */
  texts: {
    read: (x: unknown) => {
      if (x === null || x === undefined) return [];
      return (Array.isArray(x) ? x : [x]).filter((v) => v !== null && v !== undefined && v !== "").map(String);
    },
  } as ResultSpec<string[]>,
  /** A list; absent is empty, a lone item (ConvertTo-Json unwraps one-element arrays) is a list of one. */
  list<T>(item: ResultSpec<T>): ResultSpec<T[]> {
    return {
      read: (x, at) => {
        const items = x === null || x === undefined ? [] : Array.isArray(x) ? x : [x];
        return items.map((v, i) => item.read(v, `${at}[${i}]`));
      },
    };
  },
  /** The spec's value, or null when absent (a part of an answer that failed alone). */
  nullable<T>(spec: ResultSpec<T>): ResultSpec<T | null> {
    return { read: (x, at) => (x === null || x === undefined ? null : spec.read(x, at)) };
  },
  /** An object; fields not named here are ignored. Its fields are mutable, as the answer is the caller's. */
  record<const F extends ResultFields>(fields: F): ResultSpec<{ -readonly [K in keyof F]: ResultOfSpec<F[K]> }> {
    return {
      read: (x, at) => {
        const o = asObject(x, at);
        return Object.fromEntries(Object.entries(fields).map(([k, spec]) => [k, spec.read(o[k], `${at} ${k}`)])) as { -readonly [K in keyof F]: ResultOfSpec<F[K]> };
      },
    };
  },
};
