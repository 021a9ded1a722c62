import { escapeLiteral } from "pg";

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
      if (!Number.isFinite(value)) throw new TypeError(`cannot write the number ${value} as a literal`);
      return String(value);
    case "bigint":
      return value.toString();
    case "boolean":
      return value ? "true" : "false";
  }
  if (value instanceof Date) {
    if (Number.isNaN(value.getTime())) throw new TypeError("cannot write an invalid Date as a literal");
    return value.toISOString();
  }
  if (Array.isArray(value)) return arrayLiteral(value);
  if (Object.getPrototypeOf(value) === Object.prototype) return JSON.stringify(value);
  throw new TypeError(`cannot write a value of type ${Object.prototype.toString.call(value)} as a literal`);
}

/** `{"1","2"}`, `{"a b","c\"d"}`, `{NULL}`: every element quoted, so no element's text can end it early. */
function arrayLiteral(values: readonly unknown[]): string {
  const element = (v: unknown): string => {
    if (Array.isArray(v)) return arrayLiteral(v);
    const text = parameterText(v);
    return text === null ? "NULL" : `"${text.replace(/\\/g, "\\\\").replace(/"/g, '\\"')}"`;
  };
  return `{${values.map(element).join(",")}}`;
}

/**
 * A statement's value as a quoted literal (pg's escapeLiteral), for the arguments of an `EXECUTE`
 * in a simple-protocol message, which takes no parameters: a quoted literal is of unknown type
 * until the prepared statement's parameter types it, as an untyped parameter is, so the statement
 * means what it means with parameters.
 */
export function sqlLiteral(value: unknown): string {
  const text = parameterText(value);
  return text === null ? "NULL" : escapeLiteral(text);
}
