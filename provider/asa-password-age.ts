// The ASA password's age against a maximum (`asaPasswordMaxAgeDays`), in one place for the
// AsaComputerAccount's check (the rotation a preview plans), the doctor (ok, due soon, overdue) and
// drift. The ASA is a computer account no computer logs on with, so AD never changes its password by
// itself (Microsoft's RollAlternateServiceAccountPassword.ps1 offers a scheduled task for that); the
// age is AD's own `pwdLastSet`, measured at one moment, and the maximum is the stack's. Nothing here
// reads a clock recorded at an earlier `up`: a password reset by hand restarts the age.
import { InvalidInputError } from "./errors";

/** A password due within this many days is reported as due soon (a warning). */
export const DUE_SOON_DAYS = 7;

const DAY_MS = 86_400_000;

/** The longest maximum the setting takes: ten years. */
export const MAX_AGE_DAYS_LIMIT = 3650;

export type PasswordAgeStatus = "ok" | "due-soon" | "overdue";

export interface PasswordAge {
  /** AD's pwdLastSet (ISO 8601). */
  setAt: string;
  /** Whole days since then, at `at`. */
  ageDays: number;
  maxAgeDays: number;
  /** When the password is due: pwdLastSet + the maximum (ISO 8601). */
  dueAt: string;
  status: PasswordAgeStatus;
  /** The moment the age was measured at (ISO 8601). */
  measuredAt: string;
}

/** The resource input (and the component's argument): a whole number of days, 1 to 3650, or absent. */
export function maxAgeDaysInput(field: string, value: unknown): number | undefined {
  if (value === undefined || value === null || value === "") return undefined;
  if (typeof value !== "number" || !Number.isInteger(value) || value < 1 || value > MAX_AGE_DAYS_LIMIT) {
    throw new InvalidInputError(field, `${JSON.stringify(value)} is not a whole number of days from 1 to ${MAX_AGE_DAYS_LIMIT}`, "give the password's maximum age in days, such as 90, or leave it out to rotate only when you change the password", { code: "NUMBER_OUT_OF_RANGE" });
  }
  return value;
}

/** The age of a password AD set at `setAt`, at `at`, against `maxAgeDays`. */
export function passwordAge(setAt: Date, maxAgeDays: number, at: Date): PasswordAge {
  const due = new Date(setAt.getTime() + maxAgeDays * DAY_MS);
  const left = due.getTime() - at.getTime();
  const status: PasswordAgeStatus = left <= 0 ? "overdue" : left <= DUE_SOON_DAYS * DAY_MS ? "due-soon" : "ok";
  return {
    setAt: setAt.toISOString(),
    ageDays: Math.max(0, Math.floor((at.getTime() - setAt.getTime()) / DAY_MS)),
    maxAgeDays,
    dueAt: due.toISOString(),
    status,
    measuredAt: at.toISOString(),
  };
}

const day = (iso: string): string => iso.slice(0, 10);

/** "set 2026-09-01, 97 days ago, the maximum is 90": the one line every message starts from. */
export function describeAge(a: PasswordAge): string {
  const ago = a.ageDays === 0 ? "today" : a.ageDays === 1 ? "1 day ago" : `${a.ageDays} days ago`;
  return `set ${day(a.setAt)}, ${ago}, the maximum is ${a.maxAgeDays}`;
}

/** "due 2026-11-30 (in 3 days)" or "due since 2026-11-30". */
export function describeDue(a: PasswordAge): string {
  if (a.status === "overdue") return `due since ${day(a.dueAt)}`;
  const days = Math.ceil((Date.parse(a.dueAt) - Date.parse(a.measuredAt)) / DAY_MS);
  return `due ${day(a.dueAt)} (in ${days === 1 ? "1 day" : `${days} days`})`;
}
