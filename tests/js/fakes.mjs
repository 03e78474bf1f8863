// Stand-ins for the browser objects the handheld's modules are given (not a test file: no tests here).

/** sessionStorage/localStorage's contract (strings in, strings or null out) over a Map. */
export function memoryStorage() {
  const items = new Map();
  return {
    items,
    getItem: (key) => (items.has(key) ? items.get(key) : null),
    setItem: (key, value) => items.set(key, String(value)),
    removeItem: (key) => items.delete(key),
  };
}
