import type { CodeSpec } from "../../src/contract.generated.js";

// No code of the contract has a personal param yet, so tests that must show
// one is never reported add a code that has: `address` is personal,
// `minutes` is not. Test files install it with
//
//   vi.mock(import("../../src/contract.generated.js"), async (original) => {
//     const { withPersonalParam } = await import("./personal-contract.js");
//     return withPersonalParam(await original());
//   });
//
// which every module of the SDK then sees, contract.ts's `isCode` included.

/** The code whose copy names a personal param. */
export const PERSONAL_CODE = "MAILBOX_UNAVAILABLE";
export const PERSONAL_VALUE = "ada.lovelace@example.com";

const PERSONAL_SPEC: CodeSpec = {
  status: 503,
  category: "upstream",
  severity: "error",
  client: false,
  field: false,
  deprecated: false,
  retry: { auto: false, user: true, after_ms: 60_000 },
  params: ["address", "minutes"],
  pii: ["address"],
};

/** Return the generated contract module with `PERSONAL_CODE` added. */
export function withPersonalParam<Module extends { readonly CODES: object }>(
  module: Module,
): Module {
  const codes = { ...module.CODES, [PERSONAL_CODE]: PERSONAL_SPEC };

  return { ...module, CODES: codes };
}
