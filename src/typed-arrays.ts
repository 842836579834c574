/** @module Growing the typed arrays that hot paths reuse instead of allocating per call. */

type Growable = Float64Array | Int32Array | Uint16Array;

/** A copy of `array` `length` elements long (at least its own length), the new elements zero. */
export function grown<T extends Growable>(array: T, length: number): T {
  const copy = new (array.constructor as new (length: number) => T)(Math.max(length, array.length));
  copy.set(array);
  return copy;
}
