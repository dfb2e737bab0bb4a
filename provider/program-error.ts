// Refusals raised in the Pulumi program itself (KerberosRollout's validation, the site program's
// settings), before any resource is declared. The Node SDK prints an error thrown by a program as
// "Running program … failed with an unhandled exception:" and a coloured stack trace, except a
// RunError, whose message alone it logs (@pulumi/pulumi cmd/run/run.js): so ours is one, and its
// message is one line per problem, each naming the field, the cause and the fix.
import * as pulumi from "@pulumi/pulumi";
import { formatProblem, InvalidInputError } from "./errors";

export class InvalidProgramInputError extends pulumi.RunError {
  /** Each problem, its field named as the user wrote it (a config key, or a component argument). */
  readonly problems: InvalidInputError[];

  constructor(problems: InvalidInputError[]) {
    super(problems.map((p) => formatProblem(p)).join("\n"));
    this.name = "InvalidProgramInputError";
    this.problems = problems;
  }
}
