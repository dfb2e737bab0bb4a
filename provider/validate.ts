// Offline validation shared by every resource's `check`: each function throws an
// InvalidInputError naming the field and the fix, or returns the normalized value.
import { isIPv4, isIPv6 } from "node:net";
import { InvalidInputError } from "./errors";

const LABEL = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/i;

/** A DNS host name of at least two labels (RFC 1123), returned lowercase without a trailing dot. */
export function fqdn(field: string, value: unknown): string {
  const example = "give a fully qualified name such as outlook.corp.example";
  if (typeof value !== "string") {
    throw new InvalidInputError(field, `${value === null ? "null" : JSON.stringify(value) ?? typeof value} is not a string`, example, { code: "NOT_A_STRING" });
  }
  if (value.trim() === "") throw new InvalidInputError(field, "is empty", example, { code: "VALUE_EMPTY" });
  const name = value.endsWith(".") ? value.slice(0, -1) : value;
  const labels = name.split(".");
  if (/[^\x00-\x7f]/.test(name)) {
    throw new InvalidInputError(field, `${JSON.stringify(value)} has characters outside ASCII`, "write an internationalized name in its ASCII form (xn--…, punycode), as DNS, Kerberos and Exchange use it", { code: "NON_ASCII_NAME" });
  }
  if (name.length > 253) {
    throw new InvalidInputError(field, `is ${name.length} characters; a DNS name has at most 253`, "shorten it, such as outlook.corp.example", { code: "NAME_TOO_LONG" });
  }
  if (labels.length < 2 || !labels.every((l) => LABEL.test(l)) || /^\d+$/.test(labels[labels.length - 1])) {
    throw new InvalidInputError(
      field,
      `${JSON.stringify(value)} is not a fully qualified DNS name`,
      "use letters, digits and hyphens in dot-separated labels of at most 63 characters, such as outlook.corp.example",
      { code: "NOT_A_DNS_NAME" },
    );
  }
  return name.toLowerCase();
}

/** One DNS label (a record name relative to its zone, or `@` for the apex). */
export function dnsLabel(field: string, value: unknown): string {
  if (value === "@") return "@";
  if (typeof value !== "string" || !value.split(".").every((l) => LABEL.test(l)) || value.length > 253) {
    throw new InvalidInputError(field, `${JSON.stringify(value)} is not a DNS name relative to the zone`, "use letters, digits and hyphens, such as outlook, or @ for the zone apex", { code: "NOT_A_RELATIVE_DNS_NAME" });
  }
  return value.toLowerCase();
}

export function ipv4(field: string, value: unknown): string {
  if (typeof value !== "string" || !isIPv4(value)) {
    throw new InvalidInputError(field, `${JSON.stringify(value)} is not an IPv4 address`, "give a dotted quad such as 10.0.0.25", { code: "NOT_AN_IPV4_ADDRESS" });
  }
  return value;
}

export function ipv6(field: string, value: unknown): string {
  if (typeof value !== "string" || !isIPv6(value)) {
    throw new InvalidInputError(field, `${JSON.stringify(value)} is not an IPv6 address`, "give an address such as 2001:db8::25", { code: "NOT_AN_IPV6_ADDRESS" });
  }
  return value.toLowerCase();
}

/** An absolute https URL with a host name; returned as given (Exchange compares URLs as strings). */
export function httpsUrl(field: string, value: unknown): string {
  let url: URL;
  try {
    url = new URL(String(value));
  } catch {
    throw new InvalidInputError(field, `${JSON.stringify(value)} is not an absolute URL`, "give an https URL such as https://outlook.corp.example/owa", { code: "NOT_AN_ABSOLUTE_URL" });
  }
  if (url.protocol !== "https:") {
    throw new InvalidInputError(field, `${JSON.stringify(value)} is not an https URL`, "Exchange virtual directories for Kerberos clients must use https://", { code: "NOT_HTTPS" });
  }
  if (url.username || url.password) {
    throw new InvalidInputError(field, "must not carry a user name or password", "remove the user:password@ part", { code: "URL_HAS_CREDENTIALS" });
  }
  fqdn(`${field} (host)`, url.hostname);
  return String(value);
}

export function bool(field: string, value: unknown, dflt: boolean): boolean {
  if (value === undefined || value === null) return dflt;
  if (typeof value !== "boolean") {
    throw new InvalidInputError(field, `${JSON.stringify(value)} is not true or false`, "set a boolean", { code: "NOT_A_BOOLEAN" });
  }
  return value;
}

export function oneOf<T extends string>(field: string, value: unknown, allowed: readonly T[]): T {
  const hit = allowed.find((a) => typeof value === "string" && a.toLowerCase() === value.toLowerCase());
  if (hit === undefined) {
    throw new InvalidInputError(field, `${JSON.stringify(value)} is not allowed`, `use one of ${allowed.join(", ")}`, { code: "VALUE_NOT_ALLOWED" });
  }
  return hit;
}
