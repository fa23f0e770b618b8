// Checked by `npm run typecheck`, never run: each assertion holds only if
// this file compiles, and each `@ts-expect-error` only if its line does not.

import { type Code, type CodeSpec, codeSpec, isCode, type ParamsByCode } from "../src/index.js";

type Equal<A, B> =
  (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;

function assertType<T extends true>(_proof?: T): void {}

// @ts-expect-error: codeSpec accepts only codes the contract defines.
codeSpec("NOT_A_CODE");

// @ts-expect-error: a plain string is not a Code until isCode says so.
codeSpec("MODEL_TIMEOUT" as string);

const spec: CodeSpec = codeSpec("MODEL_TIMEOUT");
void spec;

// isCode narrows a string from the wire to a Code.
const fromWire: string = "MODEL_TIMEOUT";
if (isCode(fromWire)) {
  codeSpec(fromWire);
}

assertType<Equal<ParamsByCode["MODEL_TIMEOUT"]["model"], string>>();
assertType<Equal<ParamsByCode["RATE_LIMITED"]["seconds"], number>>();
assertType<Equal<keyof ParamsByCode, Code>>();

// @ts-expect-error: MODEL_TIMEOUT has no such param.
type _NoSuchParam = ParamsByCode["MODEL_TIMEOUT"]["seconds"];
