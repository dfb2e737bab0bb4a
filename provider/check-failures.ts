// The failures one `check` collects, one per refused input: each with its stable code, the cause
// and the fix, as the engine prints them ("property: reason"). A lower layer than the resources, so
// that what they share with the Exchange and LDAP layers (refusals at preview) imports no resource.
import type * as pulumi from "@pulumi/pulumi";
import { causeOf, formatProblem, InvalidInputError, KerberosRolloutError } from "./errors";
import type { ErrorCode } from "./error-codes";

/**
 * `check` result helper: collects failures as { property, reason }, the reason built from the
 * cause and the fix by `formatProblem` (the engine prints "property: reason").
 */
export class CheckFailures {
  readonly failures: pulumi.dynamic.CheckFailure[] = [];
  private firstError?: Error;

  /** A refusal of `property`: its stable code, the cause alone and the fix. */
  add(property: string, code: ErrorCode, reason: string, fix?: string): void {
    this.failures.push({ property, reason: formatProblem({ reason, fix }) });
    this.firstError ??= new InvalidInputError(property, reason, fix, { code });
  }

  /**
   * A refusal of `property` because of `e`, which the directory or Exchange raised while `check`
   * asked it something: `context` says what could not be done ("cannot check the OU"), `e`'s
   * cause and fix follow, and `e`'s code is kept.
   */
  addError(property: string, e: KerberosRolloutError, context?: string): void {
    const reason = context === undefined ? e.reason : `${context}: ${causeOf(e)}`;
    this.failures.push({ property, reason: formatProblem({ field: context === undefined && e.field !== property ? e.field : undefined, reason, fix: e.fix }) });
    this.firstError ??= e;
  }

  /** Runs `fn`, turning an InvalidInputError (or any Error) into a failure on `property`. */
  guard(property: string, fn: () => void): void {
    try {
      fn();
    } catch (e) {
      if (e instanceof KerberosRolloutError) {
        // The engine prints "<property>: <reason>": a reason that named the field again would
        // name it twice.
        this.addError(property, e);
        return;
      }
      const error = e instanceof Error ? e : new Error(String(e));
      this.failures.push({ property, reason: error.message });
      this.firstError ??= error;
    }
  }

  /** Past `check` (create, update, diff): the first failure, thrown as it was raised. */
  throwFirst(): void {
    if (this.firstError) throw this.firstError;
  }
}
