import { readFileSync } from "node:fs";

// Just enough of JSON Schema to check records against
// contracts/schema/log-record.schema.json: `required`, and per property
// `type`, `enum`, `pattern`, lengths, bounds, `not` and the schema's one
// `$ref`, to the single-line rule. The record schema uses nothing else on
// the fields the SDK writes.

interface PropertySchema {
  readonly type?: string;
  readonly enum?: readonly unknown[];
  readonly pattern?: string;
  readonly minLength?: number;
  readonly maxLength?: number;
  readonly minimum?: number;
  readonly maximum?: number;
  readonly not?: { readonly const?: unknown };
  readonly $ref?: string;
}

interface RecordSchema {
  readonly required: readonly string[];
  readonly properties: Readonly<Record<string, PropertySchema>>;
}

const SCHEMA_PATH = new URL("../../../contracts/schema/log-record.schema.json", import.meta.url);
const SINGLE_LINE = "#/$defs/single_line";

/** The record schema, as the Python middleware and the SDK share it. */
export const LOG_RECORD_SCHEMA = JSON.parse(readFileSync(SCHEMA_PATH, "utf8")) as RecordSchema;

/** List how `record` breaks the log-record schema; empty when it does not. */
export function schemaViolations(record: Readonly<Record<string, unknown>>): string[] {
  const missing = LOG_RECORD_SCHEMA.required
    .filter((key) => !Object.hasOwn(record, key))
    .map((key) => `${key}: missing`);
  const invalid = Object.entries(record).flatMap(([key, value]) => {
    const schema = LOG_RECORD_SCHEMA.properties[key];
    return schema === undefined ? [] : propertyViolations(value, schema).map((v) => `${key}: ${v}`);
  });

  return [...missing, ...invalid];
}

function propertyViolations(value: unknown, schema: PropertySchema): string[] {
  const found: string[] = [];
  const shown = JSON.stringify(value);

  if (schema.type !== undefined && !hasType(value, schema.type)) {
    found.push(`${shown} is not of type ${schema.type}`);
  }
  if (schema.enum !== undefined && !schema.enum.includes(value)) {
    found.push(`${shown} is not one of ${schema.enum.join(", ")}`);
  }
  if (schema.not?.const !== undefined && value === schema.not.const) {
    found.push(`${shown} is not allowed`);
  }
  if (typeof value === "string") {
    found.push(...stringViolations(value, schema));
  }
  if (typeof value === "number") {
    if (schema.minimum !== undefined && value < schema.minimum) {
      found.push(`${shown} is below ${schema.minimum}`);
    }
    if (schema.maximum !== undefined && value > schema.maximum) {
      found.push(`${shown} is above ${schema.maximum}`);
    }
  }

  return found;
}

function stringViolations(value: string, schema: PropertySchema): string[] {
  const found: string[] = [];
  const shown = JSON.stringify(value);

  if (schema.pattern !== undefined && !new RegExp(schema.pattern, "u").test(value)) {
    found.push(`${shown} does not match ${schema.pattern}`);
  }
  if (schema.minLength !== undefined && value.length < schema.minLength) {
    found.push(`${shown} is shorter than ${schema.minLength}`);
  }
  if (schema.maxLength !== undefined && value.length > schema.maxLength) {
    found.push(`${shown} is longer than ${schema.maxLength}`);
  }
  if (schema.$ref === SINGLE_LINE && value.includes("\n")) {
    found.push(`${shown} spans lines`);
  }

  return found;
}

function hasType(value: unknown, type: string): boolean {
  switch (type) {
    case "integer":
      return Number.isInteger(value);
    case "object":
      return typeof value === "object" && value !== null && !Array.isArray(value);
    default:
      return typeof value === type;
  }
}
