/**
 * Training animations: snapshots of the tree taken while it trains, rendered at the end as
 * an animated GIF whose frames are captioned with the samples seen so far.
 *
 * The training loop decides when to snapshot with {@linkcode snapshotSchedule} (every `every`
 * samples early on, while the tree changes fast, and after every epoch) and hands each
 * snapshot to {@linkcode TrainingAnimation.addFrame}, which only copies the parameters;
 * drawing happens once, in {@linkcode TrainingAnimation.toGif}.
 *
 * @example
 * ```ts
 * const anim = new TrainingAnimation(config, dataInfo, { depthLimit: 4 });
 * const schedule = snapshotSchedule({ every: 2000, until: 20000 });
 * anim.addFrame(params, 0); // the initial tree
 * // in onBatch:  if (schedule.atBatch(seen)) anim.addFrame(params, seen);
 * // in onEpoch:  if (schedule.atEpoch(seen)) anim.addFrame(params, seen);
 * await Deno.writeFile("training.gif", await anim.toGif());
 * ```
 *
 * @module
 */
import type { DataInfo } from "../io/types.ts";
import type { TreeConfig, TreeParams } from "../tree/types.ts";
import { treeSizes } from "../tree/types.ts";
import { thousands } from "./_svg.ts";
import { encodeGif } from "./gif.ts";
import { type RgbaImage, svgToRgba } from "./png.ts";
import { treeSvg } from "./tree_svg.ts";

/** Options of {@linkcode TrainingAnimation}. */
export interface TrainingAnimationOptions {
  /**
   * Levels of inner nodes drawn in each frame (deeper subtrees are shown as boxes).
   * @default min(depth, 4)
   */
  depthLimit?: number;
  /**
   * Frame width in pixels.
   * @default 960
   */
  width?: number;
  /**
   * How long each frame shows, in milliseconds.
   * @default 400
   */
  delayMs?: number;
  /**
   * How long the last frame (the trained tree) shows, in milliseconds.
   * @default 3000
   */
  lastDelayMs?: number;
  /** The title above the tree. @default "Training a soft decision tree (depth D)" */
  title?: string;
}

/** One stored snapshot. */
interface Snapshot {
  params: TreeParams;
  samplesSeen: number;
}

/**
 * Records snapshots of a training tree and renders them as an animated GIF.
 *
 * `addFrame` is cheap (a copy of the parameters, no drawing), so it can run inside the
 * training loop; memory is one parameter copy per frame (`4 (I F + I + L K)` bytes).
 */
export class TrainingAnimation {
  #config: Pick<TreeConfig, "depth" | "features" | "classes">;
  #data: DataInfo;
  #options: TrainingAnimationOptions;
  #frames: Snapshot[] = [];

  /**
   * Starts an empty animation.
   *
   * @param config The tree's config (depth, features, classes are read).
   * @param dataInfo What the data look like (image shape or feature names, class names).
   * @param options Frame size, depth drawn, delays, title.
   * @throws {RangeError} When `depthLimit` or `width` is not a whole number >= 1.
   */
  constructor(
    config: Pick<TreeConfig, "depth" | "features" | "classes">,
    dataInfo: DataInfo,
    options: TrainingAnimationOptions = {},
  ) {
    for (const key of ["depthLimit", "width"] as const) {
      const v = options[key];
      if (v !== undefined && !(Number.isInteger(v) && v >= 1)) {
        throw new RangeError(`Cannot animate: ${key} must be a whole number >= 1, got ${v}`);
      }
    }
    this.#config = { depth: config.depth, features: config.features, classes: config.classes };
    this.#data = dataInfo;
    this.#options = options;
  }

  /**
   * Store a snapshot (the parameters are copied, so the caller may keep training them).
   *
   * @param params The tree's current parameters.
   * @param samplesSeen Training samples seen so far; written on the frame.
   * @throws {RangeError} When the parameters do not fit the config.
   */
  addFrame(params: TreeParams, samplesSeen: number): void {
    const { inner, leaves } = treeSizes(this.#config.depth);
    const { features, classes } = this.#config;
    if (
      params.w.length !== inner * features || params.b.length !== inner ||
      params.phi.length !== leaves * classes
    ) {
      throw new RangeError(
        `Cannot add animation frame: parameters do not fit depth ${this.#config.depth}, ` +
          `${features} features, ${classes} classes`,
      );
    }
    this.#frames.push({
      params: {
        w: params.w.slice(),
        b: params.b.slice(),
        phi: params.phi.slice(),
        beta: params.beta,
      },
      samplesSeen,
    });
  }

  /** The number of snapshots stored (the GIF has this many frames). */
  get frameCount(): number {
    return this.#frames.length;
  }

  /** The samples seen at each snapshot, in order. */
  get samplesSeen(): number[] {
    return this.#frames.map((f) => f.samplesSeen);
  }

  /**
   * Render every snapshot and encode the animation. Takes about half a second per frame.
   *
   * @returns The GIF file's bytes, one frame per snapshot.
   * @throws {RangeError} When no frame was added.
   */
  async toGif(): Promise<Uint8Array> {
    if (this.#frames.length === 0) throw new RangeError("Cannot write animation: no frames added");
    const { depth } = this.#config;
    const o = this.#options;
    const images: RgbaImage[] = [];
    for (const frame of this.#frames) {
      const svg = treeSvg(
        { config: this.#config, params: frame.params, data: this.#data },
        {
          depthLimit: o.depthLimit ?? Math.min(depth, 4),
          title: o.title ?? `Training a soft decision tree (depth ${depth})`,
          caption: `samples seen: ${thousands(frame.samplesSeen)}`,
        },
      );
      images.push(await svgToRgba(svg, { width: o.width ?? 960 }));
    }
    return encodeGif(images, { delayMs: o.delayMs ?? 400, lastDelayMs: o.lastDelayMs ?? 3000 });
  }
}

/** Options of {@linkcode snapshotSchedule}. */
export interface SnapshotScheduleOptions {
  /**
   * Early on, snapshot every this many training samples.
   * @default 2000
   */
  every?: number;
  /**
   * Stop the early snapshots after this many samples (after that, only epochs).
   * @default 20000
   */
  until?: number;
}

/** When to snapshot; see {@linkcode snapshotSchedule}. */
export interface SnapshotSchedule {
  /** After a batch: true when `samplesSeen` crossed the next multiple of `every` (<= `until`). */
  atBatch(samplesSeen: number): boolean;
  /** After an epoch: true unless a snapshot was already taken at `samplesSeen`. */
  atEpoch(samplesSeen: number): boolean;
}

/**
 * Decide when the training loop snapshots the tree: every `every` samples while at most
 * `until` samples have been seen (the tree changes fastest early on), and after each epoch.
 * Batch ends rarely land on exact multiples, so a batch snapshot is due once `samplesSeen`
 * reaches or passes the next multiple. Never twice at the same sample count.
 *
 * @param options `every` (default 2000) and `until` (default 20000) samples.
 * @returns A stateful schedule; use one per training run.
 * @throws {RangeError} When `every` is not positive or `until` is negative.
 * @example
 * ```ts
 * const s = snapshotSchedule({ every: 1000, until: 3000 });
 * [640, 1280, 1920, 2560, 3200, 3840].map((n) => s.atBatch(n));
 * // [false, true, false, true, true, false]: at 1000, 2000 and 3000, as batches pass them
 * s.atEpoch(60000); // true
 * ```
 */
export function snapshotSchedule(options: SnapshotScheduleOptions = {}): SnapshotSchedule {
  const every = options.every ?? 2000;
  const until = options.until ?? 20000;
  if (!(Number.isFinite(every) && every > 0)) {
    throw new RangeError(`Snapshot interval must be positive, got ${every}`);
  }
  if (!(until >= 0)) throw new RangeError(`Snapshot horizon must be >= 0, got ${until}`);
  let next = every;
  let last = -1;
  return {
    atBatch(samplesSeen: number): boolean {
      if (next > until || samplesSeen < next || samplesSeen === last) return false;
      while (next <= samplesSeen) next += every;
      last = samplesSeen;
      return true;
    },
    atEpoch(samplesSeen: number): boolean {
      if (samplesSeen === last) return false;
      last = samplesSeen;
      return true;
    },
  };
}
