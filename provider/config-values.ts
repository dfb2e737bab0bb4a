// Strict readers for stack config values, which Pulumi hands over as text: the site program's keys
// (site-config.ts) and the provider's connection keys (settings.ts) both read through these, so a
// value means one thing everywhere. Loose reads are how `24abc` became 24, `0x18` became 0 and
// `'"EX1"'` became the servers E, X and 1: each reader here accepts exactly one written form and
// otherwise throws an InvalidInputError that names the key and shows that form.
import { InvalidInputError } from "./errors";

/** How to set a key, for the fix of a message: `pulumi config set exchange-kerberos:servers '["EX1","EX2"]'`. */
export function setCommand(key: string, example: string, secret = false): string {
  const quoted = /^[A-Za-z0-9._:@\/=,-]+$/.test(example) ? example : `'${example.replace(/'/g, "'\\''")}'`;
  return `pulumi config set ${secret ? "--secret " : ""}${key} ${quoted}`;
}

/** A value shown in a message: quoted, at most 60 characters, control characters escaped. */
export function shown(value: string): string {
  const s = JSON.stringify(value.length > 60 ? `${value.slice(0, 57)}...` : value);
  return s;
}

/** Whole decimal (`24`) or hexadecimal with 0x (`0x18`), exactly as written: no sign, no spaces,
 * no leading zeros, no fraction, no exponent, no trailing text. */
const DECIMAL = /^(0|[1-9][0-9]*)$/;
const HEX = /^0[xX][0-9A-Fa-f]+$/;

export interface IntegerRange {
  min: number;
  max: number;
  /** What the number counts, for the fix: "milliseconds", "a bit mask". */
  unit: string;
  example: string;
}

/** An integer from its exact written form; `undefined` when the key is absent. */
export function integerValue(key: string, raw: string | undefined, range: IntegerRange): number | undefined {
  if (raw === undefined) return undefined;
  const fix = `write a whole number in decimal or 0x-hex (${range.unit}, ${range.min} to ${range.max}), such as ${setCommand(key, range.example)}`;
  if (raw === "") throw new InvalidInputError(key, "is empty", `${fix}, or remove it with pulumi config rm ${key}`, { code: "VALUE_EMPTY" });
  if (!DECIMAL.test(raw) && !HEX.test(raw)) throw new InvalidInputError(key, `${shown(raw)} is not a whole decimal or 0x-hex number`, fix, { code: "NOT_A_NUMBER" });
  const n = HEX.test(raw) ? parseInt(raw.slice(2), 16) : Number(raw);
  if (!Number.isSafeInteger(n) || n < range.min || n > range.max) {
    throw new InvalidInputError(key, `${raw} is outside ${range.min} to ${range.max}`, fix, { code: "NUMBER_OUT_OF_RANGE" });
  }
  return n;
}

/** `true` or `false`, exactly; `undefined` when the key is absent. */
export function booleanValue(key: string, raw: string | undefined): boolean | undefined {
  if (raw === undefined) return undefined;
  if (raw === "true") return true;
  if (raw === "false") return false;
  const fix = `set true or false, such as ${setCommand(key, "false")}`;
  if (raw === "") throw new InvalidInputError(key, "is empty", `${fix}, or remove it with pulumi config rm ${key}`, { code: "VALUE_EMPTY" });
  throw new InvalidInputError(key, `${shown(raw)} is not true or false`, fix, { code: "NOT_A_BOOLEAN" });
}

/** A JSON array of strings (`["EX1","EX2"]`); `undefined` when the key is absent. Elements are
 * returned as written: what they must look like is the consumer's to say. */
export function stringListValue(key: string, raw: string | undefined, example: string[]): string[] | undefined {
  if (raw === undefined) return undefined;
  const fix = `write a JSON list of strings, such as ${setCommand(key, JSON.stringify(example))}`;
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    throw new InvalidInputError(key, raw === "" ? "is empty" : `${shown(raw)} is not JSON`, fix, { code: raw === "" ? "VALUE_EMPTY" : "NOT_JSON" });
  }
  if (!Array.isArray(parsed)) {
    const what = parsed === null ? "null" : typeof parsed === "object" ? "a JSON object" : `a JSON ${typeof parsed}`;
    throw new InvalidInputError(key, `${shown(raw)} is ${what}, not a list`, fix, { code: "NOT_A_LIST" });
  }
  parsed.forEach((v, i) => {
    if (typeof v !== "string") {
      throw new InvalidInputError(`${key}[${i}]`, `${v === null ? "null" : JSON.stringify(v)} is not a string`, fix, { code: "NOT_A_STRING" });
    }
  });
  return parsed as string[];
}

/** A text value that must not be empty when present; `undefined` when the key is absent. */
export function textValue(key: string, raw: string | undefined, example: string): string | undefined {
  if (raw === undefined) return undefined;
  if (raw.trim() === "") throw new InvalidInputError(key, "is empty", `${setCommand(key, example)}, or remove it with pulumi config rm ${key}`, { code: "VALUE_EMPTY" });
  return raw;
}
