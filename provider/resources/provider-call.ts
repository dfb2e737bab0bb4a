// The single entry point of every serialized closure in a stack's state: the resource's type token
// finds its implementation in the registry, after the version checks of the state the engine hands
// over. Apart from dynamic.ts, so that the resources (which import dynamic.ts) are never imported
// back by what the registry loads: the registry requires them lazily, and this file requires it.
import { exitWhenEngineGone } from "../engine-watch";
import { ConflictError } from "../errors";
import { PACKAGE_NAME, PACKAGE_VERSION, writtenByNewer } from "../package-install";
import { expectSdkPrint, Method, runProviderMethod, SDK_PRINTS } from "./dynamic";
import { implementationOf } from "./registry";

/** Runs one provider method of one resource: the single entry point of every serialized closure. */
export async function providerCall(type: string, method: Method, args: unknown[]): Promise<unknown> {
  exitWhenEngineGone();
  const writer = writerOf(method, args);
  if (writer !== undefined && writtenByNewer(writer, PACKAGE_VERSION)) {
    const e = new ConflictError(
      `this resource's state was written by ${PACKAGE_NAME} ${writer}, newer than the ${PACKAGE_VERSION} this project loads`,
      `install ${writer} or later where the stack runs (npm install ${PACKAGE_NAME}@^${writer}); docs/reference/state-compatibility.md says which versions read which state`,
      { code: "STATE_FROM_NEWER_VERSION" },
    );
    if (SDK_PRINTS.has(method)) expectSdkPrint(e);
    throw e;
  }
  return withPackageVersion(method, args, await runProviderMethod(implementationOf(type, writer), type, method, args));
}

/** The input and output that say which version of the package wrote a resource's state. */
export const PACKAGE_VERSION_KEY = "packageVersion";

/** The version recorded in the state a method is handed (olds, or the outputs of read and delete). */
function writerOf(method: Method, args: unknown[]): string | undefined {
  const recorded = method === "check" ? args[0] : method === "create" ? undefined : args[1];
  const v = typeof recorded === "object" && recorded !== null ? (recorded as Record<string, unknown>)[PACKAGE_VERSION_KEY] : undefined;
  return typeof v === "string" && /^\d+\.\d+\./.test(v) ? v : undefined;
}

/**
 * The version goes into the inputs `check` returns (so state names the version that last ran the
 * program) and into the outputs of create and update, beside the stored code that wrote them; a
 * read keeps the outputs' version, since the stored code stays the one create or update left.
 */
export function withPackageVersion(method: Method, args: unknown[], result: unknown): unknown {
  const r = result as { inputs?: Record<string, unknown>; failures?: unknown[]; outs?: Record<string, unknown>; props?: Record<string, unknown> };
  const stamp = (o: Record<string, unknown> | undefined, version: string | undefined) =>
    o && version !== undefined && Object.keys(o).length > 0 ? { ...o, [PACKAGE_VERSION_KEY]: version } : o;
  switch (method) {
    case "check":
      return r.failures?.length ? r : { ...r, inputs: stamp(r.inputs, PACKAGE_VERSION) };
    case "create":
    case "update":
      return { ...r, outs: stamp(r.outs, PACKAGE_VERSION) };
    case "read":
      return { ...r, props: stamp(r.props, writerOf(method, args)) };
    default:
      return result;
  }
}

