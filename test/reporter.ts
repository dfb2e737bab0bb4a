// Mocha's spec reporter plus one closing line, "tests: N passed, N failed", that CI reads.
import Mocha = require("mocha");

class SpecWithTotals extends Mocha.reporters.Spec {
  constructor(runner: Mocha.Runner, options?: Mocha.MochaOptions) {
    super(runner, options);
    runner.once(Mocha.Runner.constants.EVENT_RUN_END, () => {
      const s = runner.stats;
      if (!s) return;
      const skipped = s.pending ? `, ${s.pending} skipped` : "";
      console.log(`tests: ${s.passes} passed, ${s.failures} failed${skipped}`);
    });
  }
}

export = SpecWithTotals;
