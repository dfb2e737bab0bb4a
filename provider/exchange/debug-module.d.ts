// child-shell (under node-powershell) names the `debug` package in its type declarations without
// depending on @types/debug; this minimal declaration keeps strict compilation without it.
declare module "debug" {
  namespace Debug {
    interface Debugger {
      (formatter: unknown, ...args: unknown[]): void;
      extend(namespace: string): Debugger;
    }
  }
  const Debug: { (namespace: string): Debug.Debugger };
  export = Debug;
}
