// @ts-check
/**
 * Image preprocessing for a trained tree, in plain JavaScript with no imports: the same file
 * runs in softtree (`predict`, `explain`, after PNG or JPEG decoding) and, embedded, in the
 * HTML report (on a canvas the user draws on). A digit drawn in the report and the same
 * pixels saved as a PNG therefore reach the tree as the same input.
 *
 * A raster is `{ width, height, channels, data, maxValue }`: `channels` is 1 (gray), 2 (gray
 * and alpha), 3 (RGB) or 4 (RGBA), `data` is row-major with channels interleaved, `maxValue`
 * is 255 for 8-bit samples and 65535 for 16-bit ones. A model's input is channels-last
 * `[height, width, channels]` with values in [0, 1], like softtree's image data sets.
 *
 * @module
 */

/**
 * @typedef {object} Raster
 * @property {number} width
 * @property {number} height
 * @property {number} channels 1 gray, 2 gray + alpha, 3 RGB, 4 RGBA.
 * @property {ArrayLike<number>} data `[height, width, channels]` samples in `[0, maxValue]`.
 * @property {number} maxValue 255 for 8-bit samples, 65535 for 16-bit ones.
 */

/**
 * An image as values in [0, 1] (what the steps between decoding and the model work on).
 * @typedef {object} Plane
 * @property {number} width
 * @property {number} height
 * @property {number} channels
 * @property {ArrayLike<number>} values `[height, width, channels]`, row-major.
 */

/**
 * What a model's image input looks like.
 * @typedef {object} ImageTarget
 * @property {number} height
 * @property {number} width
 * @property {number} channels
 * @property {boolean} lightOnDark The training images are light on a dark background (MNIST
 *   and its kin), so images with a light background are inverted.
 * @property {boolean} digit The model reads handwritten digits the way MNIST frames them.
 */

/**
 * How to prepare an image.
 * @typedef {object} PrepareOptions
 * @property {"auto" | "digit" | "stretch" | "none"} [fit] `"digit"`: crop to the ink, scale
 *   it into a 20x20 box and centre it by its centre of mass in 28x28 (MNIST's own framing);
 *   `"stretch"`: resize the whole image to the model's size; `"none"`: the image must have
 *   the model's size already; `"auto"` (the default): `"none"` when the size already fits,
 *   else `"digit"` for digit models and `"stretch"` for the others.
 * @property {"auto" | "always" | "never"} [invert] `"auto"` (the default) inverts an image
 *   whose border is light when the model's images are light on dark.
 */

/**
 * A prepared input and what was done to get it.
 * @typedef {object} Prepared
 * @property {Float32Array} x The model's input `[height * width * channels]`, in [0, 1].
 * @property {string[]} steps What was done, in words, in order.
 * @property {boolean} inverted Whether the image was inverted.
 * @property {"none" | "digit" | "stretch"} fit How the image was brought to the model's size.
 */

/** Samples brighter than this (after levels) count as ink when digit framing. */
const INK_THRESHOLD = 0.2;

/**
 * Converts a raster to `channels` channels with values in [0, 1]: transparent pixels are laid
 * over white (as a browser shows them), colour becomes gray by luma (ITU-R BT.601) unless
 * the three channels are equal, gray is repeated into RGB.
 *
 * @param {Raster} raster The decoded image.
 * @param {number} channels The model's channel count.
 * @returns {{ image: Plane & { values: Float64Array }, notes: string[] }} The image and what was
 *   done.
 * @throws {RangeError} When the image's colour channels cannot become the model's.
 * @example
 * ```js
 * const raster = { width: 1, height: 1, channels: 3, data: [255, 0, 0], maxValue: 255 };
 * toChannels(raster, 1).image.values; // Float64Array [0.299]
 * ```
 */
export function toChannels(raster, channels) {
  const { width, height, data, maxValue } = raster;
  const src = raster.channels;
  const hasAlpha = src === 2 || src === 4;
  const colour = hasAlpha ? src - 1 : src;
  if (channels !== 1 && channels !== 3 && channels !== colour) {
    throw new RangeError(
      `the image has ${colour} colour channels and the model reads ${channels}`,
    );
  }
  const n = width * height;
  const values = new Float64Array(n * channels);
  const notes = [];
  let transparent = false;
  let coloured = false;
  const px = new Float64Array(colour);
  for (let i = 0; i < n; i++) {
    const a = hasAlpha ? data[i * src + colour] / maxValue : 1;
    if (a < 1) transparent = true;
    for (let c = 0; c < colour; c++) {
      px[c] = (data[i * src + c] / maxValue) * a + (1 - a);
    }
    if (channels === colour) {
      for (let c = 0; c < channels; c++) values[i * channels + c] = px[c];
    } else if (channels === 1) {
      // colour === 3: gray by luma, or the common value of a gray pixel stored as RGB.
      if (px[0] === px[1] && px[1] === px[2]) values[i] = px[0];
      else {
        coloured = true;
        values[i] = 0.299 * px[0] + 0.587 * px[1] + 0.114 * px[2];
      }
    } else {
      // colour === 1, channels === 3.
      values[i * 3] = values[i * 3 + 1] = values[i * 3 + 2] = px[0];
    }
  }
  if (transparent) notes.push("transparent pixels over white");
  if (coloured) notes.push("colour to gray (luma)");
  else if (colour === 3 && channels === 1) notes.push("gray (R = G = B)");
  if (colour === 1 && channels === 3) notes.push("gray to RGB");
  return { image: { width, height, channels, values }, notes };
}

/**
 * The mean of the outermost ring of pixels (all channels): the image's background level.
 *
 * @param {Plane} image
 * @returns {number} The mean border value in [0, 1].
 * @example
 * ```js
 * borderLevel({ width: 3, height: 3, channels: 1, values: [1, 1, 1, 1, 0, 1, 1, 1, 1] }); // 1
 * ```
 */
export function borderLevel(image) {
  const { values, width, height, channels } = image;
  let sum = 0;
  let count = 0;
  for (let y = 0; y < height; y++) {
    const edgeRow = y === 0 || y === height - 1;
    for (let x = 0; x < width; x++) {
      if (!edgeRow && x !== 0 && x !== width - 1) continue;
      for (let c = 0; c < channels; c++) sum += values[(y * width + x) * channels + c];
      count += channels;
    }
  }
  return count ? sum / count : 0;
}

/**
 * The weights of a 1-D resampling from `from` samples to `to`: an area average when
 * shrinking (each output sample averages the input it covers), linear interpolation between
 * pixel centres when enlarging.
 *
 * @param {number} from
 * @param {number} to
 * @returns {{ index: number, weight: number }[][]} For each output sample, its input samples.
 */
function resampleWeights(from, to) {
  const out = [];
  const ratio = from / to;
  for (let i = 0; i < to; i++) {
    const taps = [];
    if (to <= from) {
      const lo = i * ratio;
      const hi = lo + ratio;
      for (let j = Math.floor(lo); j < Math.min(from, Math.ceil(hi)); j++) {
        const cover = Math.min(hi, j + 1) - Math.max(lo, j);
        if (cover > 0) taps.push({ index: j, weight: cover / ratio });
      }
    } else {
      const centre = Math.min(from - 1, Math.max(0, (i + 0.5) * ratio - 0.5));
      const j = Math.min(from - 2, Math.floor(centre));
      if (from === 1) taps.push({ index: 0, weight: 1 });
      else {
        const f = centre - j;
        taps.push({ index: j, weight: 1 - f }, { index: j + 1, weight: f });
      }
    }
    out.push(taps);
  }
  return out;
}

/**
 * Resizes an image separably (rows, then columns): each output pixel averages the input it
 * covers when shrinking, and interpolates linearly between pixel centres when enlarging.
 *
 * @param {Plane} image
 * @param {{ width: number, height: number }} size The output's size.
 * @returns {Plane & { values: Float64Array }} The resized image.
 * @example
 * ```js
 * resize({ width: 2, height: 1, channels: 1, values: [0, 1] }, { width: 1, height: 1 }).values;
 * // Float64Array [0.5]
 * ```
 */
export function resize(image, size) {
  const { values, width, height, channels } = image;
  const { width: toWidth, height: toHeight } = size;
  const wx = resampleWeights(width, toWidth);
  const wy = resampleWeights(height, toHeight);
  const rows = new Float64Array(height * toWidth * channels); // [height, toWidth, channels]
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < toWidth; x++) {
      for (const { index, weight } of wx[x]) {
        for (let c = 0; c < channels; c++) {
          rows[(y * toWidth + x) * channels + c] += weight *
            values[(y * width + index) * channels + c];
        }
      }
    }
  }
  const out = new Float64Array(toHeight * toWidth * channels);
  for (let y = 0; y < toHeight; y++) {
    for (const { index, weight } of wy[y]) {
      for (let i = 0; i < toWidth * channels; i++) {
        out[y * toWidth * channels + i] += weight * rows[index * toWidth * channels + i];
      }
    }
  }
  return { width: toWidth, height: toHeight, channels, values: out };
}

/**
 * MNIST's framing of a gray digit (light on dark): stretch its levels so the background is 0
 * and the brightest ink 1, crop to the ink, scale the crop (aspect kept) to fit a box of
 * 20/28 of the output, and place it so that its centre of mass is at the output's centre
 * pixel.
 *
 * @param {Plane} image A gray image (one channel), light on dark.
 * @param {{ width: number, height: number }} size The output's size (28x28 for MNIST).
 * @returns {{ image: Plane & { values: Float64Array }, notes: string[] }} The framed digit and
 *   what was done.
 * @throws {RangeError} When the image is blank (no ink stands out from the background).
 * @example
 * ```js
 * const { image, notes } = frameDigit(drawing, { width: 28, height: 28 });
 * ```
 */
export function frameDigit(image, size) {
  const { values: gray, width, height } = image;
  const { width: outWidth, height: outHeight } = size;
  const notes = [];
  const background = borderLevel(image);
  let brightest = 0;
  for (let i = 0; i < gray.length; i++) brightest = Math.max(brightest, gray[i]);
  if (brightest - background < 0.05) {
    throw new RangeError("the image is blank: nothing stands out from its background");
  }
  const levels = new Float64Array(gray.length);
  for (let i = 0; i < gray.length; i++) {
    levels[i] = Math.min(1, Math.max(0, (gray[i] - background) / (brightest - background)));
  }
  if (background > 0.005 || brightest < 0.995) {
    notes.push(`levels ${background.toFixed(2)}-${brightest.toFixed(2)} stretched to 0-1`);
  }
  let x0 = width, y0 = height, x1 = -1, y1 = -1;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      if (levels[y * width + x] > INK_THRESHOLD) {
        x0 = Math.min(x0, x);
        x1 = Math.max(x1, x);
        y0 = Math.min(y0, y);
        y1 = Math.max(y1, y);
      }
    }
  }
  if (x1 < 0) throw new RangeError("the image is blank: no ink above the background");
  const bw = x1 - x0 + 1;
  const bh = y1 - y0 + 1;
  const crop = new Float64Array(bw * bh);
  for (let y = 0; y < bh; y++) {
    for (let x = 0; x < bw; x++) crop[y * bw + x] = levels[(y0 + y) * width + x0 + x];
  }
  const box = Math.max(1, Math.round((Math.min(outWidth, outHeight) * 20) / 28));
  const scale = box / Math.max(bw, bh);
  const tw = Math.max(1, Math.min(outWidth, Math.round(bw * scale)));
  const th = Math.max(1, Math.min(outHeight, Math.round(bh * scale)));
  const patch = resize({ width: bw, height: bh, channels: 1, values: crop }, {
    width: tw,
    height: th,
  }).values;
  // The centre of mass in pixel indices goes to pixel (14, 14) of 28x28, as in MNIST (its first
  // 5,000 training digits have their centre of mass at (14.00, 13.99) on average).
  let mass = 0, mx = 0, my = 0;
  for (let y = 0; y < th; y++) {
    for (let x = 0; x < tw; x++) {
      const v = patch[y * tw + x];
      mass += v;
      mx += v * x;
      my += v * y;
    }
  }
  const ox = Math.round(outWidth / 2 - mx / mass);
  const oy = Math.round(outHeight / 2 - my / mass);
  const values = new Float64Array(outWidth * outHeight);
  for (let y = 0; y < th; y++) {
    for (let x = 0; x < tw; x++) {
      const X = x + ox;
      const Y = y + oy;
      if (X >= 0 && X < outWidth && Y >= 0 && Y < outHeight) {
        values[Y * outWidth + X] = patch[y * tw + x];
      }
    }
  }
  notes.push(
    `MNIST framing: ink ${bw}x${bh} to ${tw}x${th}, centre of mass at (${outWidth >> 1}, ${
      outHeight >> 1
    }) of ${outWidth}x${outHeight}`,
  );
  return { image: { width: outWidth, height: outHeight, channels: 1, values }, notes };
}

/**
 * Prepares an image for a model: channels, inversion, size, range. See the module doc.
 *
 * @param {Raster} raster The decoded image.
 * @param {ImageTarget} target The model's input.
 * @param {PrepareOptions} [options] Fitting and inversion.
 * @returns {Prepared} The input and the steps taken, in words.
 * @throws {RangeError} When the image cannot become the model's input (channels, a blank image
 *   for digit framing, a size that does not fit with `fit: "none"`).
 * @example
 * ```js
 * const { data, width, height } = canvas.getContext("2d").getImageData(0, 0, 280, 280);
 * const mnist = { height: 28, width: 28, channels: 1, lightOnDark: true, digit: true };
 * const { x, steps } = prepareImage({ width, height, channels: 4, data, maxValue: 255 }, mnist);
 * ```
 */
export function prepareImage(raster, target, options = {}) {
  const { width, height } = raster;
  if (!(width > 0 && height > 0)) throw new RangeError(`the image is ${width}x${height}`);
  const kinds = ["", "gray", "gray + alpha", "RGB", "RGBA"];
  const depth = raster.maxValue === 255
    ? "8-bit"
    : raster.maxValue === 65535
    ? "16-bit"
    : `0-${raster.maxValue}`;
  const kind = kinds[raster.channels] ?? `${raster.channels} channels`;
  const steps = [`${width}x${height} ${kind}, ${depth} to [0, 1]`];
  const converted = toChannels(raster, target.channels);
  const image = converted.image; // inverted in place below when it is inverted
  let values = image.values;
  steps.push(...converted.notes);

  const invertMode = options.invert ?? "auto";
  let inverted = false;
  if (invertMode === "always") inverted = true;
  else if (invertMode === "auto" && target.lightOnDark) {
    const level = borderLevel(image);
    inverted = level > 0.5;
    steps.push(
      inverted
        ? `light background (${level.toFixed(2)}): inverted`
        : `dark background (${level.toFixed(2)}): kept`,
    );
  }
  if (inverted) {
    for (let i = 0; i < values.length; i++) values[i] = 1 - values[i];
    if (invertMode === "always") steps.push("inverted, as asked");
  }

  const sameSize = width === target.width && height === target.height;
  const fitMode = options.fit ?? "auto";
  /** @type {"none" | "digit" | "stretch"} */
  const fit = fitMode === "auto"
    ? (sameSize ? "none" : target.digit ? "digit" : "stretch")
    : fitMode;
  if (fit === "none" && !sameSize) {
    throw new RangeError(
      `the image is ${width}x${height} and the model reads ${target.width}x${target.height}`,
    );
  }
  if (fit === "digit") {
    if (target.channels !== 1) {
      throw new RangeError(
        `digit framing needs a gray model, this one reads ${target.channels} channels`,
      );
    }
    const framed = frameDigit(image, target);
    values = framed.image.values;
    steps.push(...framed.notes);
  } else if (fit === "stretch" && !sameSize) {
    values = resize(image, target).values;
    steps.push(`resized ${width}x${height} to ${target.width}x${target.height}`);
  }
  const x = new Float32Array(values.length);
  for (let i = 0; i < x.length; i++) x[i] = Math.min(1, Math.max(0, values[i]));
  return { x, steps, inverted, fit };
}
