import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { Ajv2020 } from "ajv/dist/2020.js";
import addFormats from "ajv-formats";

// The log-record schema the Python middleware's records are checked against
// too, read by path from the package's folder, where the tests run.
const SCHEMA = JSON.parse(
  readFileSync(resolve("..", "contracts", "schema", "log-record.schema.json"), "utf8"),
) as object;

const ajv = new Ajv2020({ allErrors: true, strict: false });
addFormats.default(ajv);
const validate = ajv.compile(SCHEMA);

/**
 * Check `record` against the shared log-record schema.
 *
 * @returns One line per violation, "<where>: <what>", empty when it is valid.
 */
export function schemaViolations(record: Readonly<Record<string, unknown>>): string[] {
  if (validate(record)) {
    return [];
  }

  return (validate.errors ?? []).map(
    (error) => `${error.instancePath || "/"}: ${error.message ?? error.keyword}`,
  );
}
