// Which package this is, and whether the project can run the code Pulumi stores for it.
//
// Pulumi stores each dynamic resource's provider in state (resources/dynamic.ts) and replays it in
// the dynamic-provider host, which the engine starts in the program's directory; that code loads
// this package by its own name from there, for check and diff at preview and for refresh and
// destroy, which never run the program. A program that reaches the package some other way (through
// another package of a pnpm workspace, under an npm alias, from a bundle) runs fine while the stored
// code would fail, or run another version. So the program checks, before it declares anything,
// that its own directory loads this very version by name: else preview stops, naming the cause.
import * as fs from "fs";
import * as path from "path";
import { InvalidInputError } from "./errors";
import { InvalidProgramInputError } from "./program-error";

/** The name the stored provider code requires, and the one users install. */
export const PACKAGE_NAME = "pulumi-exchange-kerberos";

/** This package's version (from dist/provider/ the package root is two folders up; a bundler inlines it). */
export const PACKAGE_VERSION: string = (require("../../package.json") as { version: string }).version;

/**
 * Whether state written by `writer` is newer than `reader` can read: a newer minor (0.x) or major
 * version may have changed what state holds; patch releases never do (docs/reference/state-compatibility.md).
 */
export function writtenByNewer(writer: string, reader: string): boolean {
  const [wMajor, wMinor] = writer.split(".").map(Number);
  const [rMajor, rMinor] = reader.split(".").map(Number);
  return wMajor > rMajor || (wMajor === rMajor && wMinor > rMinor);
}

/** The version of the package `dir` loads by name, or undefined when it loads none. */
export function versionLoadedFrom(dir: string): string | undefined {
  const request = `${PACKAGE_NAME}/package.json`;
  try {
    const file = require.resolve(request, { paths: [dir] });
    return (JSON.parse(fs.readFileSync(file, "utf8")) as { version?: string }).version;
  } catch {
    return undefined;
  }
}

/** The project directory (the nearest holding Pulumi.yaml), where a user installs packages. */
export function projectDirectory(from = process.cwd()): string {
  for (let dir = from; ; dir = path.dirname(dir)) {
    if (fs.existsSync(path.join(dir, "Pulumi.yaml"))) return dir;
    if (path.dirname(dir) === dir) return from;
  }
}

let checkedDir: string | undefined;

/**
 * Program side, before the first resource is declared: the program's directory (where the engine
 * starts the provider host) must load this version by name. Throws an InvalidProgramInputError,
 * which the SDK prints as its line alone.
 */
export function checkProjectLoadsThisPackage(dir = process.cwd()): void {
  if (checkedDir === dir) return;
  const found = versionLoadedFrom(dir);
  if (found === PACKAGE_VERSION) {
    checkedDir = dir;
    return;
  }
  const fix = `add it to the project's own dependencies: npm install ${PACKAGE_NAME}@${PACKAGE_VERSION} in ${projectDirectory(dir)} (pnpm add and yarn add alike; not under an alias; a bundler must leave ${PACKAGE_NAME} external)`;
  const problem = found === undefined
    ? new InvalidInputError(PACKAGE_NAME, `the program runs ${PACKAGE_VERSION} but cannot load it by that name from ${dir}, where Pulumi replays each resource's stored provider code at preview, refresh and destroy (it came through another package, an alias or a bundle)`, fix, { code: "PACKAGE_NOT_IN_PROJECT" })
    : new InvalidInputError(PACKAGE_NAME, `the program runs ${PACKAGE_VERSION}, but ${dir} loads ${found} by that name, the version Pulumi would run for these resources at preview, refresh and destroy`, fix, { code: "PACKAGE_VERSION_MISMATCH" });
  throw new InvalidProgramInputError([problem]);
}
