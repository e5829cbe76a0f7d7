/**
 * The report page's behaviour, inlined by html.ts after `predictor.js` (`loadModel`,
 * `predictTree`) and `pixels.js` (`prepareImage`): the tree as a zoomable SVG whose nodes
 * open their details on click, inputs from a sample of test images or from a drawing canvas,
 * routed live through the tree with the same maths as softtree, and the confusion matrices
 * and the run's facts. Reads its data from the JSON in `#softtree-data`; loads nothing.
 */
/* global loadModel, predictTree, prepareImage */

const DATA = JSON.parse(document.getElementById("softtree-data").textContent);
const MODEL = loadModel(DATA.model);
const INPUT = DATA.model.input;
const F = MODEL.features;
const K = MODEL.classes;
const I = 2 ** MODEL.depth - 1;
const NAMES = MODEL.classNames;
const STATE = { x: null, prediction: null, source: null, steps: [], selected: null };
// A regression tree: its leaves hold values of its target, in the target's units.
const REG = Boolean(MODEL.regression);
const TARGET = REG ? MODEL.target.name : null;

const $ = (id) => document.getElementById(id);
const pct = (v) => `${(100 * v).toFixed(2)}%`;
/** A value in the target's units, as softtree's `valueText`. */
const fmt = (v) => {
  if (v === 0 || !Number.isFinite(v)) return String(v);
  const a = Math.abs(v);
  return a >= 1e-3 && a < 1e7
    ? String(Number(v.toPrecision(a >= 1000 ? 6 : 4)))
    : v.toExponential(3);
};
/** What a sample or prototype is, by its label (or a regression tree's value). */
const sampleName = (j) =>
  REG
    ? DATA.samples.values ? `${TARGET} ${fmt(DATA.samples.values[j])}` : TARGET
    : `class ${NAMES[DATA.samples.labels[j]]}`;
const protoName = (j) =>
  REG
    ? DATA.prototypes.values ? fmt(DATA.prototypes.values[j]) : ""
    : NAMES[DATA.prototypes.labels[j]];
const esc = (s) =>
  String(s).replace(
    /[&<>"]/g,
    (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[c],
  );

function bytesOf(b64) {
  const bin = atob(b64);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

function float32Of(b64) {
  const bytes = bytesOf(b64);
  const view = new DataView(bytes.buffer);
  const out = new Float32Array(bytes.length / 4);
  for (let i = 0; i < out.length; i++) out[i] = view.getFloat32(4 * i, true);
  return out;
}

const SAMPLES = float32Of(DATA.samples.data);
const PROTOS = DATA.prototypes.encoding === "uint8"
  ? Float32Array.from(bytesOf(DATA.prototypes.data), (v) => v / 255)
  : float32Of(DATA.prototypes.data);

// ---- pictures of inputs and filters ----

const DIVERGING = [
  [-1, [33, 102, 172]],
  [-0.5, [146, 197, 222]],
  [0, [255, 255, 255]],
  [0.5, [244, 165, 130]],
  [1, [178, 24, 43]],
];

/** Blue (negative), white (zero), red (positive), as softtree's pictures. */
function diverging(t) {
  const v = Math.max(-1, Math.min(1, t || 0));
  for (let i = 1; i < DIVERGING.length; i++) {
    const [a, ca] = DIVERGING[i - 1];
    const [b, cb] = DIVERGING[i];
    if (v <= b) {
      const f = (v - a) / (b - a);
      return ca.map((c, j) => Math.round(c + f * (cb[j] - c)));
    }
  }
  return DIVERGING[DIVERGING.length - 1][1];
}

/**
 * Paints values on a canvas: an input as it is (light on dark for gray images), or signed
 * values (a filter, input x filter) in the diverging map scaled by their largest magnitude.
 * Tabular rows are drawn as bars.
 */
function paint(canvas, values, signed) {
  const ctx = canvas.getContext("2d");
  if (INPUT.kind !== "image") {
    canvas.classList.add("bars");
    canvas.width = 120;
    canvas.height = 40;
    ctx.fillStyle = "#fafafa";
    ctx.fillRect(0, 0, 120, 40);
    let m = 0;
    for (const v of values) m = Math.max(m, Math.abs(v));
    const bw = 120 / values.length;
    values.forEach((v, f) => {
      const t = m ? v / m : 0;
      ctx.fillStyle = `rgb(${diverging(t).join(",")})`;
      const h = Math.abs(t) * 18;
      ctx.fillRect(f * bw + 0.5, t >= 0 ? 20 - h : 20, Math.max(1, bw - 1), Math.max(h, 0.5));
    });
    return;
  }
  const [h, w, c] = INPUT.imageShape;
  canvas.width = w;
  canvas.height = h;
  const img = ctx.createImageData(w, h);
  let m = 0;
  if (signed) { for (const v of values) m = Math.max(m, Math.abs(v)); }
  for (let p = 0; p < w * h; p++) {
    let rgb;
    if (signed) {
      // Several channels: their mean (the filter's picture per channel is in the tree).
      let s = 0;
      for (let j = 0; j < c; j++) s += values[p * c + j];
      rgb = diverging(m ? s / c / m : 0);
    } else if (c === 3) {
      rgb = [0, 1, 2].map((j) => Math.round(255 * values[p * 3 + j]));
    } else {
      const g = Math.round(255 * Math.max(0, Math.min(1, values[p * c])));
      rgb = [g, g, g];
    }
    img.data.set([rgb[0], rgb[1], rgb[2], 255], p * 4);
  }
  ctx.putImageData(img, 0, 0);
}

function bars(dist, best, label) {
  const max = Math.max(...dist);
  return `<div class="bars">${
    dist.map((p, k) =>
      `<span>${esc(NAMES[k])}</span><div class="bar${k === best ? " max" : ""}" style="width:${
        (100 * p / (max || 1)).toFixed(1)
      }%"></div><span>${(100 * p).toFixed(1)}%</span>`
    ).join("")
  }</div>${label ? `<div class="note">${esc(label)}</div>` : ""}`;
}

// ---- tabular trees: weights and contributions by feature name, a form of the features ----

const FEATURES = DATA.features.names;
const TABLE = INPUT.kind !== "image";

/**
 * The `rows` entries of `values` largest in magnitude, largest first, with the share of the
 * squared norm they hold (as softtree's `topTerms`).
 */
function topTerms(values, rows) {
  const order = Array.from(values, (_, f) => f)
    .sort((a, b) => Math.abs(values[b]) - Math.abs(values[a]) || a - b)
    .slice(0, rows);
  let all = 0, kept = 0;
  for (const v of values) all += v * v;
  for (const f of order) kept += values[f] * values[f];
  return { indices: order, share: all > 0 ? kept / all : 1 };
}

/** A signed bar list of the largest values by feature name, as the tree picture's nodes. */
function weightList(values, rows, what) {
  const { indices, share } = topTerms(values, rows);
  let m = 0;
  for (const f of indices) m = Math.max(m, Math.abs(values[f]));
  const lines = indices.map((f) => {
    const v = values[f];
    const w = m ? (50 * Math.abs(v)) / m : 0;
    const colour = `rgb(${diverging(m ? v / m : 0).join(",")})`;
    return `<tr data-feature="${esc(FEATURES[f])}"><th>${
      esc(FEATURES[f])
    }</th><td class="signed">` +
      `<span style="margin-left:${
        v >= 0 ? 50 : 50 - w
      }%;width:${w}%;background:${colour}"></span>` +
      `</td><td>${v.toFixed(3)}</td></tr>`;
  }).join("");
  return `<table class="weights">${lines}</table><div class="note">${indices.length} of ${F} ` +
    `${what}: ${(100 * share).toFixed(0)}% of the squared norm</div>`;
}

/**
 * Each feature's contribution along the path of prediction `p` of input `x`: the sum over the
 * inner nodes on the path of ±β·x_f·w_nf, + where the path goes right (softtree's
 * `pathContributions().total`).
 */
function contributions(x, p) {
  const total = new Float64Array(F);
  for (let i = 0; i + 1 < p.path.length; i++) {
    const n = p.path[i];
    const sign = p.path[i + 1] === 2 * n + 2 ? 1 : -1;
    for (let f = 0; f < F; f++) total[f] += sign * MODEL.beta * x[f] * MODEL.w[n * F + f];
  }
  return total;
}

/** A row typed in the features' original units, scaled as the tree reads it. */
function scaleRow(raw) {
  const sc = INPUT.scaling;
  return Float32Array.from(raw, (v, f) => {
    if (!sc) return v;
    const lo = sc.min[f], hi = sc.max[f];
    return hi > lo ? (v - lo) / (hi - lo) : 0;
  });
}

function setupForm() {
  const form = $("row-form");
  if (!form) return;
  const sc = INPUT.scaling;
  form.innerHTML = FEATURES.map((name, f) => {
    const mid = sc ? (sc.min[f] + sc.max[f]) / 2 : 0.5;
    const range = sc ? ` title="training range ${sc.min[f]} to ${sc.max[f]}"` : "";
    return `<label${range}><span>${esc(name)}</span><input type="number" step="any" ` +
      `data-feature="${f}" value="${Number(mid.toPrecision(6))}"></label>`;
  }).join("") + `<button type="submit" id="row-route">Route</button>`;
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const raw = Array.from(form.querySelectorAll("input"), (el) => Number(el.value));
    const bad = raw.findIndex((v) => !Number.isFinite(v));
    if (bad >= 0) {
      $("result").innerHTML = `<p class="note">"${esc(FEATURES[bad])}" is not a number.</p>`;
      return;
    }
    run(
      scaleRow(raw),
      "form",
      sc ? ["features min-max scaled with the training split's ranges"] : [],
    );
  });
}

// ---- the tree: zoom, pan, selection, the live path ----

const box = $("tree-box");
const svg = box.querySelector("svg");
// A copy: viewBox.baseVal is live and follows every zoom.
const full = (({ x, y, width, height }) => ({ x, y, width, height }))(svg.viewBox.baseVal);
const view = { x: full.x, y: full.y, w: full.width, h: full.height };

function applyView() {
  svg.setAttribute("viewBox", `${view.x} ${view.y} ${view.w} ${view.h}`);
}

function svgPoint(clientX, clientY) {
  const pt = svg.createSVGPoint();
  pt.x = clientX;
  pt.y = clientY;
  return pt.matrixTransform(svg.getScreenCTM().inverse());
}

function zoom(factor, clientX, clientY) {
  const r = box.getBoundingClientRect();
  const p = svgPoint(clientX ?? r.left + r.width / 2, clientY ?? r.top + r.height / 2);
  const f = Math.min(Math.max(factor, full.width / 60 / view.w), (full.width * 2) / view.w);
  view.x = p.x - (p.x - view.x) * f;
  view.y = p.y - (p.y - view.y) * f;
  view.w *= f;
  view.h *= f;
  applyView();
}

function fit() {
  Object.assign(view, { x: full.x, y: full.y, w: full.width, h: full.height });
  applyView();
}

/** Shows the region `[x0, x1] x [y0, y1]` (SVG units), widened to the box's aspect ratio. */
function show(x0, y0, x1, y1) {
  const r = box.getBoundingClientRect();
  const aspect = r.height / r.width;
  let w = x1 - x0, h = y1 - y0;
  if (h / w > aspect) w = h / aspect;
  else h = w * aspect;
  Object.assign(view, { x: (x0 + x1 - w) / 2, y: (y0 + y1 - h) / 2, w, h });
  applyView();
}

/** Zooms to the marked path, root to leaf. */
function showPath() {
  const groups = svg.querySelectorAll("g.on-path");
  if (!groups.length) return;
  let x0 = Infinity, y0 = Infinity, x1 = -Infinity, y1 = -Infinity;
  for (const g of groups) {
    const b = g.getBBox();
    x0 = Math.min(x0, b.x);
    y0 = Math.min(y0, b.y);
    x1 = Math.max(x1, b.x + b.width);
    y1 = Math.max(y1, b.y + b.height);
  }
  show(x0 - 40, y0 - 30, x1 + 40, y1 + 30);
}

box.addEventListener("wheel", (e) => {
  e.preventDefault();
  zoom(Math.exp(e.deltaY * 0.0015), e.clientX, e.clientY);
}, { passive: false });

let drag = null;
box.addEventListener("pointerdown", (e) => {
  if (e.button !== 0 || e.target.closest(".zoom")) return;
  drag = { x: e.clientX, y: e.clientY, view: { ...view }, moved: false, target: e.target };
});
globalThis.addEventListener("pointermove", (e) => {
  if (!drag) return;
  const dx = e.clientX - drag.x;
  const dy = e.clientY - drag.y;
  if (!drag.moved && Math.hypot(dx, dy) < 4) return;
  drag.moved = true;
  box.classList.add("dragging");
  const r = box.getBoundingClientRect();
  const scale = Math.max(drag.view.w / r.width, drag.view.h / r.height);
  view.x = drag.view.x - dx * scale;
  view.y = drag.view.y - dy * scale;
  applyView();
});
globalThis.addEventListener("pointerup", () => {
  if (!drag) return;
  const { moved, target } = drag;
  drag = null;
  box.classList.remove("dragging");
  if (moved) return;
  const g = target.closest && target.closest("g[data-node]");
  if (g) selectNode(Number(g.dataset.node));
});
$("zoom-in").addEventListener("click", () => zoom(1 / 1.4));
$("zoom-out").addEventListener("click", () => zoom(1.4));
$("zoom-fit").addEventListener("click", fit);
$("zoom-path").addEventListener("click", showPath);

function nodeGroup(n) {
  return svg.querySelector(`g[data-node="${n}"]`);
}

/** Marks the path in green and writes z and p(right) under each inner node on it. */
function highlight(prediction) {
  for (const el of svg.querySelectorAll(".on-path")) el.classList.remove("on-path");
  for (const el of svg.querySelectorAll("text.live")) el.remove();
  if (!prediction) return;
  const path = prediction.path;
  for (let i = 0; i < path.length; i++) {
    const g = nodeGroup(path[i]);
    if (g) g.classList.add("on-path");
    if (i > 0) {
      const edge = svg.querySelector(`line.edge[data-from="${path[i - 1]}"][data-to="${path[i]}"]`);
      if (edge) {
        edge.classList.add("on-path");
        edge.parentNode.appendChild(edge); // on top of the grey edges
      }
    }
    const frame = g && g.querySelector(".frame");
    if (frame && path[i] < I) {
      const b = frame.getBBox();
      const t = document.createElementNS("http://www.w3.org/2000/svg", "text");
      t.setAttribute("class", "live");
      t.setAttribute("x", String(b.x + b.width / 2));
      t.setAttribute("y", String(b.y + b.height + 13));
      t.setAttribute("text-anchor", "middle");
      const n = path[i];
      t.textContent = `z ${prediction.logits[n].toFixed(2)}, p(right) ${
        prediction.right[n].toFixed(3)
      }`;
      g.appendChild(t);
    }
  }
}

function selectNode(n) {
  STATE.selected = n;
  for (const el of svg.querySelectorAll(".selected")) el.classList.remove("selected");
  const g = nodeGroup(n);
  if (g) g.classList.add("selected");
  renderNode(n);
}

function renderNode(n) {
  const s = DATA.nodes[n];
  const el = $("node");
  el.dataset.node = String(n);
  const isLeaf = s.leaf !== null;
  const classes = s.classes.map((k) => NAMES[k]).join(", ");
  const v = s.values;
  const parts = [
    `<h2>${
      isLeaf ? `Leaf ${s.leaf}` : `Inner node ${n}`
    } <span class="note">(heap node ${n}, depth ${s.depth})</span></h2>`,
    REG
      ? isLeaf
        ? `<div>predicts: <b>${esc(TARGET)} = ${fmt(v.lo)}</b></div>`
        : `<div>its leaves hold ${esc(TARGET)} from <b>${fmt(v.lo)}</b> to <b>${
          fmt(v.hi)
        }</b></div>`
      : `<div>${isLeaf ? "predicts" : "classes below"}: <b>${esc(classes)}</b></div>`,
  ];
  const p = STATE.prediction;
  if (!isLeaf && TABLE) {
    const w = MODEL.w.subarray(n * F, (n + 1) * F);
    parts.push(
      `<h3>Largest weights (on the scaled inputs; red positive, blue negative)</h3>`,
      weightList(w, 8, "weights"),
      `<div>bias ${MODEL.b[n].toFixed(3)}, β ${Number(MODEL.beta.toPrecision(4))}</div>`,
    );
    if (p) {
      parts.push(
        `<h3>This input: largest terms β·x·w</h3>`,
        weightList(Array.from(w, (v, f) => MODEL.beta * v * STATE.x[f]), 8, "terms"),
        `<div>z = β(x·w + b) = <b>${p.logits[n].toFixed(3)}</b>, p(right) = <b>${
          p.right[n].toFixed(3)
        }</b>, reaches it with P = ${p.reach[n].toFixed(3)}</div>`,
      );
    }
  } else if (!isLeaf) {
    const b = MODEL.b[n];
    parts.push(
      `<h3>Filter w (blue negative, red positive)${p ? " and input × filter" : ""}</h3>`,
      `<div class="filters"><figure><canvas id="node-filter" class="pixels"></canvas>bias ${
        b.toFixed(3)
      }, β ${Number(MODEL.beta.toPrecision(4))}</figure>${
        p ? `<figure><canvas id="node-corr" class="pixels"></canvas>input × filter</figure>` : ""
      }</div>`,
    );
    if (p) {
      parts.push(
        `<div>this input: z = β(x·w + b) = <b>${p.logits[n].toFixed(3)}</b>, p(right) = <b>${
          p.right[n].toFixed(3)
        }</b>, reaches it with P = ${p.reach[n].toFixed(3)}</div>`,
      );
    }
  } else if (REG) {
    const share = DATA.nodes[0].train.count ? s.train.count / DATA.nodes[0].train.count : 0;
    parts.push(
      `<div>training rows ending here (most probable leaf): ${s.train.count} (${pct(share)})${
        v.trainStd !== null ? `, their ${esc(TARGET)} ± <b>${fmt(v.trainStd)}</b>` : ""
      }</div>`,
      `<div>test inputs ending here: ${s.test.count}${
        v.testRmse !== null ? `, RMSE of the leaf's value <b>${fmt(v.testRmse)}</b>` : ""
      }</div>`,
    );
    if (p) parts.push(`<div>this input reaches it with P = ${p.reach[n].toFixed(3)}</div>`);
  } else {
    const dist = Array.from(MODEL.q.subarray(s.leaf * K, (s.leaf + 1) * K));
    parts.push(`<h3>Class distribution Q</h3>`, bars(dist, MODEL.leafClass[s.leaf]));
    parts.push(
      `<div>test inputs ending here: ${s.test.count}, classified right: ${s.test.correct}${
        s.test.count ? ` (<b>${pct(s.test.correct / s.test.count)}</b>)` : ""
      }</div>`,
    );
    if (p) parts.push(`<div>this input reaches it with P = ${p.reach[n].toFixed(3)}</div>`);
  }
  parts.push(
    `<h3>Inputs through it (on their most probable path; mass = sum of path probabilities)</h3>`,
    `<table class="kv"><tr><th>training</th><td>${s.train.count} (mass ${
      s.train.mass.toFixed(1)
    })</td></tr><tr><th>test</th><td>${s.test.count} (mass ${
      s.test.mass.toFixed(1)
    })</td></tr></table>`,
  );
  if (n === 0) {
    parts.push(`<p class="note">Every input reaches the root with probability 1.</p>`);
  } else if (s.prototypes.length) {
    parts.push(
      `<h3>Prototypes: training inputs that reach it with the highest path probability</h3>`,
      `<div class="protos">${
        s.prototypes.map((j, r) =>
          `<figure><canvas class="pixels proto" data-proto="${j}"></canvas>${
            esc(protoName(j))
          } · P ${s.prototypeReach[r].toFixed(3)}</figure>`
        ).join("")
      }</div>`,
    );
  }
  el.innerHTML = parts.join("");
  if (!isLeaf && !TABLE) {
    const w = MODEL.w.subarray(n * F, (n + 1) * F);
    paint($("node-filter"), w, true);
    if (p) paint($("node-corr"), Array.from(w, (v, f) => v * STATE.x[f]), true);
  }
  for (const c of el.querySelectorAll("canvas.proto")) {
    const j = Number(c.dataset.proto);
    paint(c, PROTOS.subarray(j * F, (j + 1) * F), false);
  }
}

// ---- inputs: the sample, the canvas ----

/** Routes an input through the tree and shows the answer everywhere. */
function run(x, source, steps) {
  const p = predictTree(MODEL, x);
  Object.assign(STATE, { x, prediction: p, source, steps: steps ?? [] });
  highlight(p);
  renderResult();
  if (STATE.selected !== null) renderNode(STATE.selected);
  return p;
}

function renderResult() {
  const p = STATE.prediction;
  const el = $("result");
  if (!p) return;
  el.dataset.class = String(p.class);
  el.dataset.leaf = String(p.leaf);
  el.dataset.leafProbability = String(p.leafProbability);
  el.dataset.mixtureClass = String(p.mixtureClass);
  el.dataset.source = STATE.source;
  if (REG) {
    el.dataset.value = String(p.value);
    el.dataset.mixtureValue = String(p.mixtureValue);
  }
  const j = STATE.source.startsWith("sample:") ? Number(STATE.source.slice(7)) : null;
  const truth = j === null
    ? null
    : REG
    ? DATA.samples.values ? fmt(DATA.samples.values[j]) : null
    : NAMES[DATA.samples.labels[j]];
  const rows = p.path.slice(0, -1).map((n, i) =>
    `<tr><td>${i}</td><td>${n}</td><td>${p.logits[n].toFixed(2)}</td><td>${
      p.right[n].toFixed(3)
    }</td><td>${p.path[i + 1] === 2 * n + 2 ? "right" : "left"}</td></tr>`
  ).join("");
  const head = REG
    ? `<div class="big" id="predicted">${esc(TARGET)} = ${fmt(p.value)}</div>
    <div>max-leaf prediction: leaf <b>${p.leaf}</b>'s value, path probability <b>${
      p.leafProbability.toFixed(3)
    }</b>; mixture (Σ P·value over the leaves) predicts <b>${fmt(p.mixtureValue)}</b>${
      truth !== null ? `; true ${esc(TARGET)} <b>${esc(truth)}</b>` : ""
    }</div>`
    : `<div class="big" id="predicted">${esc(p.className)}</div>
    <div>max-leaf prediction: leaf <b>${p.leaf}</b>, path probability <b>${
      p.leafProbability.toFixed(3)
    }</b>; mixture predicts <b>${esc(NAMES[p.mixtureClass])}</b> (${
      (100 * p.mixture[p.mixtureClass]).toFixed(1)
    }%)${truth !== null ? `; true class <b>${esc(truth)}</b>` : ""}</div>
    <h3>The leaf's class distribution</h3>${bars(p.probabilities, p.class)}`;
  el.innerHTML = `${head}
    <h3>Path</h3><table><tr><th>depth</th><th>node</th><th>z</th><th>p(right)</th><th>went</th></tr>${rows}</table>
    ${
    TABLE
      ? `<h3>Feature contributions along the path</h3><div id="contributions">${
        weightList(contributions(STATE.x, p), 8, "features")
      }</div><div class="note">Σ over the path's nodes of β·x·w, + where the path goes right: ` +
        `positive values pushed the input towards its leaf.</div>`
      : ""
  }
    ${
    STATE.steps.length
      ? `<h3>How the drawing was prepared</h3><ol class="steps">${
        STATE.steps.map((s) => `<li>${esc(s)}</li>`).join("")
      }</ol>`
      : ""
  }`;
  const seen = $("seen");
  if (seen) paint(seen, STATE.x, false);
}

function setupSamples() {
  const holder = $("samples");
  const n = DATA.samples.labels.length;
  for (let j = 0; j < n; j++) {
    const b = document.createElement("button");
    b.type = "button";
    b.dataset.sample = String(j);
    b.title = `test input ${DATA.samples.index[j]}, ${sampleName(j)}`;
    if (INPUT.kind === "image") {
      const c = document.createElement("canvas");
      c.className = "pixels";
      b.appendChild(c);
      paint(c, SAMPLES.subarray(j * F, (j + 1) * F), false);
    } else {
      b.textContent = `test row ${DATA.samples.index[j]} (${sampleName(j)})`;
    }
    b.addEventListener("click", () => {
      for (const a of holder.querySelectorAll(".active")) a.classList.remove("active");
      b.classList.add("active");
      run(SAMPLES.slice(j * F, (j + 1) * F), `sample:${j}`);
    });
    holder.appendChild(b);
  }
}

function setupPad() {
  const pad = $("pad");
  if (!pad) return;
  const ctx = pad.getContext("2d", { willReadFrequently: true });
  const clear = () => {
    ctx.fillStyle = "#000";
    ctx.fillRect(0, 0, pad.width, pad.height);
  };
  clear();
  ctx.strokeStyle = "#fff";
  ctx.fillStyle = "#fff";
  ctx.lineCap = "round";
  ctx.lineJoin = "round";
  ctx.lineWidth = pad.width / 12;
  let last = null;
  let pending = false;
  const at = (e) => {
    const r = pad.getBoundingClientRect();
    return [
      (e.clientX - r.left) * pad.width / r.width,
      (e.clientY - r.top) * pad.height / r.height,
    ];
  };
  const predict = () => {
    pending = false;
    const img = ctx.getImageData(0, 0, pad.width, pad.height);
    const raster = {
      width: img.width,
      height: img.height,
      channels: 4,
      data: img.data,
      maxValue: 255,
    };
    try {
      const prepared = prepareImage(raster, INPUT, {});
      run(prepared.x, "canvas", prepared.steps);
      $("pad-note").textContent = "";
    } catch (error) {
      $("pad-note").textContent = `Draw a digit (${error.message}).`;
    }
  };
  const later = () => {
    if (!pending) {
      pending = true;
      requestAnimationFrame(predict);
    }
  };
  pad.addEventListener("pointerdown", (e) => {
    pad.setPointerCapture(e.pointerId);
    last = at(e);
    ctx.beginPath();
    ctx.arc(last[0], last[1], ctx.lineWidth / 2, 0, 2 * Math.PI);
    ctx.fill();
    later();
  });
  pad.addEventListener("pointermove", (e) => {
    if (!last) return;
    const p = at(e);
    ctx.beginPath();
    ctx.moveTo(last[0], last[1]);
    ctx.lineTo(p[0], p[1]);
    ctx.stroke();
    last = p;
    later();
  });
  const end = () => {
    if (last) predict();
    last = null;
  };
  pad.addEventListener("pointerup", end);
  pad.addEventListener("pointercancel", end);
  $("pad-clear").addEventListener("click", () => {
    clear();
    $("pad-note").textContent = "Draw a digit with the mouse (or a finger).";
  });
}

// ---- the static parts: headline, confusion matrices, the run ----

function confusionTable(m, rows, cols, caption) {
  const head = `<tr><th>${esc(rows)} \\ ${esc(cols)}</th>${
    NAMES.map((s) => `<th>${esc(s)}</th>`).join("")
  }</tr>`;
  const body = m.map((row, i) => {
    const total = row.reduce((a, b) => a + b, 0) || 1;
    return `<tr><th>${esc(NAMES[i])}</th>${
      row.map((v, j) => {
        const f = v / total;
        const colour = i === j
          ? `rgba(26,150,65,${(0.1 + 0.6 * f).toFixed(2)})`
          : `rgba(192,57,43,${Math.min(0.7, 2 * f).toFixed(2)})`;
        return `<td class="${i === j ? "diag" : ""}" style="background:${
          v ? colour : "transparent"
        }">${v}</td>`;
      }).join("")
    }</tr>`;
  }).join("");
  return `<figure><h3>${esc(caption)}</h3><table class="confusion">${head}${body}</table></figure>`;
}

/** A regression tree's scores: R², RMSE and MAE, max-leaf and mixture. */
function regressionScores(r) {
  const row = (name, m) =>
    `<tr><th>${name}</th><td>${m ? m.r2.toFixed(4) : "—"}</td><td>${
      m ? fmt(m.rmse) : "—"
    }</td><td>${m ? fmt(m.mae) : "—"}</td></tr>`;
  const from = r.source === "test split"
    ? `on the ${DATA.accuracy.n} test inputs`
    : r.source === "recorded"
    ? "as recorded when the tree was trained"
    : "not known: the test split has no values and the checkpoint records none";
  return `<table class="kv scores"><tr><th></th><th>R²</th><th>RMSE</th><th>MAE</th></tr>${
    row("max-leaf (the leaf's value)", r.maxLeaf)
  }${row("mixture (Σ P·value)", r.mixture)}</table><div class="note">In ${
    esc(r.target)
  }'s units, ${from}.</div>`;
}

function setupStatic() {
  const a = DATA.accuracy;
  const reg = DATA.regression;
  const chips = REG
    ? [
      reg.maxLeaf
        ? `test R² <b>${reg.maxLeaf.r2.toFixed(4)}</b>, RMSE <b>${
          fmt(reg.maxLeaf.rmse)
        }</b> (max-leaf)`
        : `predicts <b>${esc(TARGET)}</b>`,
      ...(reg.mixture ? [`R² <b>${reg.mixture.r2.toFixed(4)}</b> (mixture)`] : []),
      `hard tree (p &gt; 0.5) reaches the max-leaf on <b>${pct(DATA.features.hardTree.leaf)}</b>`,
      `${a.n} test inputs`,
      `depth ${MODEL.depth}: ${I} inner nodes, ${I + 1} leaves`,
      `${F} features, predicts ${esc(TARGET)}`,
    ]
    : [
      `test accuracy <b>${pct(a.tree)}</b> (max-leaf)`,
      `<b>${pct(a.treeMixture)}</b> (mixture)`,
      ...(a.teacher !== null
        ? [`teacher <b>${pct(a.teacher)}</b>`, `fidelity to the teacher <b>${pct(a.fidelity)}</b>`]
        : []),
      ...(a.hardLabels !== null ? [`same tree on hard labels <b>${pct(a.hardLabels)}</b>`] : []),
      `hard tree (p &gt; 0.5) agrees with max-leaf on <b>${pct(DATA.features.hardTree.leaf)}</b>`,
      `${a.n} test inputs`,
      `depth ${MODEL.depth}: ${I} inner nodes, ${I + 1} leaves`,
      `${F} features, ${K} classes`,
    ];
  $("chips").innerHTML = chips.map((c) => `<span class="chip">${c}</span>`).join("");
  const m = REG ? [regressionScores(reg)] : [
    confusionTable(DATA.confusion.tree, "true", "tree", "Tree (max-leaf) on the test split"),
  ];
  if (DATA.confusion.teacher) {
    m.push(confusionTable(DATA.confusion.teacher, "true", "teacher", "Teacher on the test split"));
    m.push(
      confusionTable(
        DATA.confusion.fidelity,
        "teacher",
        "tree",
        "Tree against the teacher (fidelity)",
      ),
    );
  }
  $("matrices").innerHTML = m.join("");
  if (DATA.teacherNote) $("teacher-note").textContent = DATA.teacherNote;
  const r = DATA.run;
  const row = (k, v) => `<tr><th>${esc(k)}</th><td>${v}</td></tr>`;
  const json = (v) => `<code>${esc(JSON.stringify(v))}</code>`;
  const rows = [
    row("command", r.command ? `<code>softtree ${esc(r.command)}</code>` : "not recorded"),
    row("date", esc(r.date ?? "not recorded")),
    row("seed", esc(r.seed ?? "")),
    row(
      "distilled",
      r.distilled
        ? `yes${r.temperature !== null ? `, temperature ${esc(r.temperature)}` : ""}${
          DATA.teacher ? `, teacher <code>${esc(DATA.teacher.file)}</code>` : ""
        }`
        : "no (hard labels)",
    ),
    ...(r.teachers && r.teachers.length
      ? [row("teacher", r.teachers.map((t) => `<code>${esc(t)}</code>`).join("<br>"))]
      : []),
    row("tree options", json(r.config)),
    row("training options", r.fitOptions ? json(r.fitOptions) : "not recorded"),
    row("data", json(r.data)),
    row("backend", esc(r.backend ?? "")),
    row(
      "epochs run",
      `${esc(r.epochsRun ?? "")}${r.bestEpoch ? ` (best ${esc(r.bestEpoch)})` : ""}`,
    ),
    row("recorded when trained", json(r.recorded)),
  ];
  $("run").innerHTML = `<table class="kv">${rows.join("")}</table>`;
}

setupStatic();
setupForm();
setupSamples();
setupPad();
selectNode(0);
globalThis.softtreeReport = {
  data: DATA,
  model: MODEL,
  state: STATE,
  run,
  selectNode,
  predictTree,
  prepareImage,
  contributions,
  scaleRow,
};
document.body.dataset.ready = "true";
