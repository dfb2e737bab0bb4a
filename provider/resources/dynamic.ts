// The one way our resources talk to Pulumi's dynamic-provider host.
//
// Pulumi serializes a dynamic resource's provider object into state and replays that stored code
// for `read`, `update` and `delete`. So the serialized object must capture nothing heavy, live
// (clients, sessions) or secret, and must load the real implementation by package name at call
// time: upgrading the package then upgrades what old state runs. Each method below captures only
// two strings.
import * as pulumi from "@pulumi/pulumi";

/** The runtime half of a resource, exported from its own file and loaded inside the provider. */
export interface ResourceImpl {
  check(olds: any, news: any): Promise<pulumi.dynamic.CheckResult>;
  diff(id: string, olds: any, news: any): Promise<pulumi.dynamic.DiffResult>;
  create(inputs: any): Promise<pulumi.dynamic.CreateResult>;
  read(id: string, props: any): Promise<pulumi.dynamic.ReadResult>;
  update(id: string, olds: any, news: any): Promise<pulumi.dynamic.UpdateResult>;
  delete(id: string, props: any): Promise<void>;
}

/**
 * A provider whose every method requires `modulePath` (a `pulumi-exchange-kerberos/dist/...`
 * path) and calls the `ResourceImpl` exported there as `exportName`.
 */
export function thinProvider(modulePath: string, exportName: string): pulumi.dynamic.ResourceProvider {
  return {
    configure: async (req) => {
      require("pulumi-exchange-kerberos/dist/provider/settings").configureFromStack(req.config);
    },
    check: async (olds, news) => require(modulePath)[exportName].check(olds, news),
    diff: async (id, olds, news) => require(modulePath)[exportName].diff(id, olds, news),
    create: async (inputs) => require(modulePath)[exportName].create(inputs),
    read: async (id, props) => require(modulePath)[exportName].read(id, props),
    update: async (id, olds, news) => require(modulePath)[exportName].update(id, olds, news),
    delete: async (id, props) => require(modulePath)[exportName].delete(id, props),
  };
}

/** `check` result helper: collects failures as { property, reason } with the fix in the reason. */
export class CheckFailures {
  readonly failures: pulumi.dynamic.CheckFailure[] = [];

  add(property: string, reason: string): void {
    this.failures.push({ property, reason });
  }

  /** Runs `fn`, turning an InvalidInputError (or any Error) into a failure on `property`. */
  guard(property: string, fn: () => void): void {
    try {
      fn();
    } catch (e) {
      this.add(property, e instanceof Error ? e.message : String(e));
    }
  }
}
