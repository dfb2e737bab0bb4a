// What every resource file exports for the provider: its own file, so that the registry (which
// dynamic.ts consults) and dynamic.ts (which the resources use) do not import each other.
import type * as pulumi from "@pulumi/pulumi";

/** The runtime half of a resource, exported from its own file and loaded inside the provider. */
export interface ResourceImpl {
  /**
   * The inputs whose change replaces the resource (the same ones `diff` puts in `replaces`). At
   * preview an input may be unknown (an output of a resource still to change): `diff` then plans
   * a replace for these and an update for any other, as `up` will do once the value is known.
   */
  readonly replaceKeys: readonly string[];
  check(olds: any, news: any): Promise<pulumi.dynamic.CheckResult>;
  diff(id: string, olds: any, news: any): Promise<pulumi.dynamic.DiffResult>;
  create(inputs: any): Promise<pulumi.dynamic.CreateResult>;
  read(id: string, props: any): Promise<pulumi.dynamic.ReadResult>;
  update(id: string, olds: any, news: any): Promise<pulumi.dynamic.UpdateResult>;
  delete(id: string, props: any): Promise<void>;
}
