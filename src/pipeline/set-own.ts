/**
 * Sets `record[key] = value` as an own, enumerable data property, even for keys such as
 * `__proto__` that a plain assignment would turn into a prototype change. Names in records
 * (variables, ID tokens, secrets) come from user YAML, so every such record is filled through here.
 */
export function setOwn<T>(record: Record<string, T>, key: string, value: T): void {
  Object.defineProperty(record, key, { value, enumerable: true, writable: true, configurable: true });
}
