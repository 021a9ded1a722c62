import { escapeLiteral } from "pg";
import type { Prisma } from "../generated/prisma/client";

/**
 * A value as the text pg would send it as a parameter (strings as they are, numbers and bigints in
 * decimal, Dates in ISO 8601 with their zone, booleans, arrays as Postgres array literals, plain
 * objects as JSON); null for SQL NULL. Anything else is refused rather than guessed at.
 */
function parameterText(value: unknown): string | null {
  if (value === null || value === undefined) return null;
  switch (typeof value) {
    case "string":
      return value;
    case "number":
      if (!Number.isFinite(value)) throw new TypeError(`cannot inline the number ${value}`);
      return String(value);
    case "bigint":
      return value.toString();
    case "boolean":
      return value ? "true" : "false";
  }
  if (value instanceof Date) {
    if (Number.isNaN(value.getTime())) throw new TypeError("cannot inline an invalid Date");
    return value.toISOString();
  }
  if (Array.isArray(value)) return arrayLiteral(value);
  if (Object.getPrototypeOf(value) === Object.prototype) return JSON.stringify(value);
  throw new TypeError(`cannot inline a value of type ${Object.prototype.toString.call(value)}`);
}

/** `{1,2}`, `{"a b","c\"d"}`, `{NULL}`: every element quoted, so no element's text can end it early. */
function arrayLiteral(values: readonly unknown[]): string {
  const element = (v: unknown): string => {
    const text = Array.isArray(v) ? arrayLiteral(v) : parameterText(v);
    if (text === null) return "NULL";
    return Array.isArray(v) ? text : `"${text.replace(/\\/g, "\\\\").replace(/"/g, '\\"')}"`;
  };
  return `{${values.map(element).join(",")}}`;
}

/**
 * The statement's text with each `$n` replaced by its value as a quoted literal (escapeLiteral),
 * for a simple-protocol message of several statements, which takes no parameters. A quoted
 * literal is of unknown type until its context types it, as an untyped parameter is, so the
 * statement means what it means with parameters. Our statements' own text has no `$` but their
 * placeholders.
 */
export function inlineSql(statement: Prisma.Sql): string {
  const values = statement.values;
  return statement.text.replace(/\$(\d+)/g, (_, n: string) => {
    const i = Number(n) - 1;
    if (i < 0 || i >= values.length) throw new RangeError(`statement has no value for $${n}`);
    const text = parameterText(values[i]);
    return text === null ? "NULL" : escapeLiteral(text);
  });
}
