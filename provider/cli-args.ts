// How the command line's own parsers (doctor and keytab in cli.ts, discover's flags) read their
// arguments: one flag at a time, `--flag=value` or `--flag value`, the same for every command.

export interface Arg {
  /** The argument as given. */
  arg: string;
  /** The flag, an inline `=value` split off. */
  flag: string;
  /** The flag's value: the inline one, else the next argument (consumed); `missing(flag)` is thrown when there is none. */
  value: () => string;
}

export function* readArgs(argv: string[], missing: (flag: string) => Error): Generator<Arg> {
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const eq = arg.startsWith("--") ? arg.indexOf("=") : -1;
    const flag = eq > 0 ? arg.slice(0, eq) : arg;
    const inline = eq > 0 ? arg.slice(eq + 1) : undefined;
    yield {
      arg,
      flag,
      value: () => {
        const v = inline ?? argv[++i];
        if (v === undefined) throw missing(flag);
        return v;
      },
    };
  }
}
