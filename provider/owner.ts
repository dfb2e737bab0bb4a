// How a create recognises its own half-made object on the next run. A write whose answer was lost
// (the DC or the session died after committing) leaves the object in the directory but not in
// state, and Pulumi's next `up` creates it again. So every LDAP create writes, in the same add or
// modify that makes the object, a mark that only this resource of this stack writes: the next
// create finds the mark and carries on, while an object without it is someone else's and is still
// refused unless `adopt` is set. Never the name alone: a name says nothing about who made it.
//
// The mark is derived, not random: it must be the same on the run after a lost answer, when state
// holds nothing of the first attempt. It hashes the project, the stack, the resource type and the
// resource name (what makes a URN), so two stacks never share one.
import { createHash } from "crypto";
import * as pulumi from "@pulumi/pulumi";

/** The attribute that carries the mark: on every object class (from `top`), shown by no client UI. */
export const OWNER_ATTRIBUTE = "adminDescription";

const PREFIX = "pulumi-exchange-kerberos owner ";

/** The mark of one resource, `pulumi-exchange-kerberos owner <uuid-shaped hash>`. Program side. */
export function ownerMark(type: string, name: string): string {
  const h = createHash("sha256").update(`${pulumi.getProject()}\0${pulumi.getStack()}\0${type}\0${name}`).digest("hex");
  return `${PREFIX}${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`;
}

/** An `owner` input: a mark as ownerMark makes it, or absent (state written before marks existed). */
export function ownerInput(value: unknown): string | undefined {
  return typeof value === "string" && value.startsWith(PREFIX) ? value : undefined;
}

/**
 * The URN the engine gives a dynamic resource of `type` named `name` under `parent`, as an input
 * for messages that must name it (the `pulumi state delete` fix). Built from the parent's URN
 * through a plain promise: an Output of the parent would make the resource depend on its own parent
 * component, which waits for its children.
 */
export function dynamicResourceUrn(type: string, name: string, parent?: pulumi.Resource): pulumi.Input<string> {
  const qualified = `pulumi-nodejs:dynamic/exchange-kerberos:${type}`;
  const root = `urn:pulumi:${pulumi.getStack()}::${pulumi.getProject()}::`;
  if (!parent) return `${root}${qualified}::${name}`;
  return new Promise<string>((resolve) => {
    parent.urn.apply((u) => {
      const prefix = `${u.substring(0, u.lastIndexOf("::"))}$`;
      resolve(prefix.endsWith("::pulumi:pulumi:Stack$") ? `${root}${qualified}::${name}` : `${prefix}${qualified}::${name}`);
    });
  });
}

/**
 * The stack a resource is declared in, fully qualified (organization/project/stack), recorded as an
 * input: what `refresh` and `destroy`, which do not run the program, read the current config of
 * (current-config.ts) and export the state of (stack-state.ts). A bare name would read the default
 * organization's stack of that name.
 */
export function stackInput(): string {
  return `${pulumi.getOrganization()}/${pulumi.getProject()}/${pulumi.getStack()}`;
}

/**
 * The options every resource of this package defaults to but AsaPassword: replace delete-first.
 * AD and Exchange hold one object per name (an account, a record, an SPN value, a server's
 * settings), so a replacement created first would take over the very object its predecessor then
 * deletes (a forced `--replace`, `state taint`, `replaceOnChanges`: the engine asks no provider
 * then, and only this option orders the delete first). A user may still set it to false.
 */
export function deleteFirst<T extends pulumi.CustomResourceOptions>(opts?: T): T {
  return { ...(opts ?? ({} as T)), deleteBeforeReplace: opts?.deleteBeforeReplace ?? true };
}
