// What taking over an existing object (adopt) changes, said at preview. A new stack plans every
// resource as a create, whether the object is missing or already there (dynamic resources cannot
// be `pulumi import`ed), so a resource being adopted says in one line, from its `check`, what its
// create will change; one that already matches says nothing (docs/guides/take-over-a-rollout.md).
// Read-only, and only for a resource the stack does not hold yet.

import { recordedInputs } from "./lifecycle";

/** Whether `check` sees a resource being taken over: adopt set, and nothing in state yet (not even
 * under a replacement's first check). */
export function takingOver(news: Record<string, unknown>, olds: Record<string, unknown>): boolean {
  return news.adopt === true && Object.keys(recordedInputs(news, olds ?? {})).length === 0;
}

/** One line on stderr, which the engine shows with the resource's step. */
export function takeoverNote(text: string): void {
  process.stderr.write(`adopt: ${text}\n`);
}
