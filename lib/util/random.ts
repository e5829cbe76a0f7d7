/**
 * A small seeded random number generator (mulberry32), so that every result of
 * softtree is reproducible from a seed. No global state: each user owns its `Rng`.
 *
 * @module
 */

/** A seeded pseudo-random number generator. */
export class Rng {
  #state: number;

  /**
   * @param seed Any integer; the same seed gives the same sequence.
   * @example
   * ```ts
   * const rng = new Rng(42);
   * rng.next(); // a float in [0, 1)
   * ```
   */
  constructor(seed: number) {
    this.#state = (Math.trunc(seed) ^ 0x9e3779b9) >>> 0;
  }

  /**
   * The generator's whole state, a uint32: save it to continue the same sequence later
   * with {@linkcode Rng.fromState} (resuming an interrupted run).
   */
  get state(): number {
    return this.#state;
  }

  /**
   * A generator that continues from a saved {@linkcode Rng.state}.
   * @throws {RangeError} When `state` is not a uint32.
   * @example
   * ```ts
   * const a = new Rng(1);
   * a.next();
   * const b = Rng.fromState(a.state);
   * a.next() === b.next(); // true
   * ```
   */
  static fromState(state: number): Rng {
    if (!Number.isInteger(state) || state < 0 || state > 0xffffffff) {
      throw new RangeError(`An Rng state must be a uint32, got ${state}`);
    }
    const rng = new Rng(0);
    rng.#state = state;
    return rng;
  }

  /**
   * Advances the generator as `n` calls of {@linkcode Rng.next} would (its state moves by a
   * constant per call): for code that draws the same sequence elsewhere, e.g. in C.
   * @throws {RangeError} When `n` is not a non-negative integer.
   * @example
   * ```ts
   * const a = new Rng(1), b = new Rng(1);
   * a.next();
   * b.skip(1);
   * a.next() === b.next(); // true
   * ```
   */
  skip(n: number): void {
    if (!Number.isSafeInteger(n) || n < 0) {
      throw new RangeError(`Rng.skip needs a non-negative integer, got ${n}`);
    }
    this.#state = (this.#state + Math.imul(n % 4294967296, 0x6d2b79f5)) >>> 0;
  }

  /** A float in `[0, 1)`. */
  next(): number {
    let t = (this.#state = (this.#state + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** An integer in `[0, n)`. */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }

  /** A standard normal sample (Box-Muller). */
  normal(): number {
    const u = 1 - this.next();
    const v = this.next();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  }

  /** A uniformly random permutation of `0 .. n-1` (Fisher-Yates). */
  permutation(n: number): Int32Array {
    const p = new Int32Array(n);
    for (let i = 0; i < n; i++) p[i] = i;
    for (let i = n - 1; i > 0; i--) {
      const j = this.int(i + 1);
      const t = p[i];
      p[i] = p[j];
      p[j] = t;
    }
    return p;
  }
}
