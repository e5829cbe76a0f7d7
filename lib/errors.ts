/**
 * The few domain errors that callers catch. Everything else is a `TypeError`,
 * `RangeError` or `SyntaxError` by meaning.
 *
 * @module
 */

/** A data file or folder could not be read, or holds bad data. */
export class DatasetError extends Error {
  override name = "DatasetError";
}

/** A checkpoint (tree or teacher) is missing, corrupt or does not fit. */
export class CheckpointError extends Error {
  override name = "CheckpointError";
}

/** A backend was asked for by name but cannot load here. */
export class BackendUnavailableError extends Error {
  override name = "BackendUnavailableError";
  /** A line telling the user how to make the backend available. */
  readonly hint: string;
  /**
   * @param message What failed and why.
   * @param hint How to make the backend available.
   * @param options Standard error options (`cause`).
   */
  constructor(message: string, hint: string, options?: ErrorOptions) {
    super(message, options);
    this.hint = hint;
  }
}

/** The native library returned a non-zero status code. */
export class NativeError extends Error {
  override name = "NativeError";
  /** The status code the library returned. */
  readonly status: number;
  /**
   * @param message The library's last-error string, with context.
   * @param status The status code.
   * @param options Standard error options (`cause`).
   */
  constructor(message: string, status: number, options?: ErrorOptions) {
    super(message, options);
    this.status = status;
  }
}
