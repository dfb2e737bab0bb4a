// The lab DC of the LDAP integration tests (on their own address, so that other suites' labs never
// collide with it; LDAP_LAB_ADDR overrides), with the provider's settings pointed at it as configure would.
import { configFromMap, configureFromStack } from "../../../provider/settings";
import { Lab, labAddr, startLab } from "../../fixtures/lab";

export const LDAP_LAB_ADDR = process.env.LDAP_LAB_ADDR ?? labAddr(4);

export async function ldapLab(): Promise<Lab> {
  const lab = await startLab(LDAP_LAB_ADDR);
  configureFromStack(configFromMap(lab.stackConfig));
  return lab;
}
