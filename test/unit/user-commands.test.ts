// Tests and scripts drive the engine the way a user does: `pulumi preview`, `pulumi up` (which
// previews first), `refresh`, `destroy`. A shortcut that skips the preview hid a rotation that
// failed at preview in the first release; this keeps every such flag out of test/ and scripts/.
import * as assert from "assert";
import * as fs from "fs";
import * as path from "path";
import { REPO_ROOT } from "../fixtures/pulumi-cli";

/** Flags that let a run skip what a user's command does. */
const SHORTCUTS = ["--skip-preview", "--target", "--target-dependents", "--exclude", "skipPreview"];

function sources(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile() && !/\.(png|json|md)$/.test(e.name))
    .map((e) => path.join(e.parentPath, e.name));
}

describe("tests and scripts use the user's commands", function () {
  it("no file under test/ or scripts/ passes --skip-preview, --target or another shortcut", function () {
    const self = path.join(REPO_ROOT, "test", "unit", "user-commands.test.ts");
    const files = [...sources(path.join(REPO_ROOT, "test")), ...sources(path.join(REPO_ROOT, "scripts"))].filter((f) => f !== self);
    assert.ok(files.length > 20, `found only ${files.length} files to search`);
    const found: string[] = [];
    for (const f of files) {
      const text = fs.readFileSync(f, "utf8");
      for (const flag of SHORTCUTS) {
        const at = text.search(new RegExp(`${flag.replace(/[-]/g, "\\$&")}(?![\\w-])`));
        if (at >= 0) found.push(`${path.relative(REPO_ROOT, f)}:${text.slice(0, at).split("\n").length}: ${flag}`);
      }
    }
    assert.deepStrictEqual(found, []);
  });
});
