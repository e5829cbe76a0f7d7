/**
 * The error of the native layer: a library call returned a non-zero status code. It lives
 * here, beside the bindings that throw it, so that `ffi/` imports nothing from `lib/`.
 *
 * @module
 */

/** The native library returned a non-zero status code. */
export class NativeError extends Error {
  /** The error's name. */
  override name = "NativeError";
  /** The status code the library returned. */
  readonly status: number;
  /**
   * Makes the error.
   *
   * @param message The library's last-error string, with context.
   * @param status The status code the library returned.
   * @param options Standard error options (`cause`).
   */
  constructor(message: string, status: number, options?: ErrorOptions) {
    super(message, options);
    this.status = status;
  }
}
