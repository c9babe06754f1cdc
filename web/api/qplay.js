// QPlay's JavaScript API: labs of small networks trained side by side and evaluated at any bit-width,
// in the page (or in node), without a canvas. It loads the headless module qplay-core.js/.wasm from the
// same folder as this file.
//
//   import {createLab} from './qplay.js';
//   const lab = await createLab({state: {dataset: 'spiral', methods: 'baseline,gradl1'}});
//   await lab.train({epochs: 5});
//   lab.setBits({weights: 4});
//   await lab.settle();
//   lab.metrics().runs[0].accuracy;      // test accuracy at 4-bit weights
//
// Settings are the rows of QPlay's state table (docs/embedding.md lists them); a bad key or value
// throws a QPlayError whose message says what is allowed, and changes nothing.
//
// The module loads the best build this page can run (qplay-build.js): with kernel threads on a cross-origin
// isolated page, else SIMD on one thread, else without SIMD; describeBuild() says which.

import {chooseBuilds} from './qplay-build.js';

const DEFAULT_BUDGET_MS = 8;

export class QPlayError extends Error {
  constructor(message) {
    super(message);
    this.name = 'QPlayError';
  }
}

let modulePromise = null;

// Every call into the engine. Text goes in heap buffers (ccall would copy it onto the 5 MB stack, and a
// string of a million characters trapped the module); text holding a NUL is refused, since the engine
// would read only up to it. A WebAssembly trap or abort (out of memory, a bug) leaves the module's memory
// undefined, so from then on every lab of the page refuses with a QPlayError saying so.
function engineCall(module, name, returnType, argTypes, args) {
  if (module.qplayStopped) {
    throw new QPlayError(`QPlay's engine stopped earlier (${module.qplayStopped}); reload the page to start again`);
  }
  const values = [...args], buffers = [];
  const types = argTypes.map((type, i) => {
    if (type !== 'string') return type;
    const text = String(values[i]);
    if (text.includes('\0')) throw new QPlayError('text given to QPlay must not contain NUL characters');
    const size = module.lengthBytesUTF8(text) + 1;
    const pointer = module._malloc(size);
    if (!pointer) throw new QPlayError(`a text of ${text.length} characters does not fit in QPlay's memory`);
    module.stringToUTF8(text, pointer, size);
    buffers.push(pointer);
    values[i] = pointer;
    return 'number';
  });
  try {
    return module.ccall(name, returnType, types, values);
  } catch (error) {
    module.qplayStopped = error?.message || String(error);
    throw new QPlayError(`QPlay's engine stopped (${module.qplayStopped}); reload the page to start again`);
  } finally {
    if (!module.qplayStopped) for (const pointer of buffers) module._free(pointer);
  }
}

// Arguments from pages are checked here, so a bad one is a QPlayError naming it, never a TypeError.
function isPlainObject(value) {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}
// An option the call does not know would be ignored (a typo like {epoch: 5} trains the default): refused.
function checkOptionNames(where, options, allowed) {
  for (const key of Object.keys(options)) {
    if (!allowed.includes(key)) throw new QPlayError(`${where}: unknown option '${key}' (use ${allowed.join(', ')})`);
  }
}
function settingText(name, value) {
  if (Array.isArray(value)) return value.join(',');
  if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') return String(value);
  throw new QPlayError(`${name} must be a string, a number or an array, got ${value === null ? 'null' : typeof value}`);
}

// The engine module, loaded once per page (or process) and shared by every lab.
function loadModule(baseUrl) {
  if (!modulePromise) modulePromise = instantiate(baseUrl);
  return modulePromise;
}

// The first build of chooseBuilds() whose files load; a missing extra build (a host that copied only
// the default one) falls back to the next without a word.
async function instantiate(baseUrl) {
  const base = baseUrl ? new URL(baseUrl, import.meta.url) : new URL('.', import.meta.url);
  const builds = chooseBuilds();
  if (builds.length === 0) throw new QPlayError('this browser has no WebAssembly, which QPlay needs');
  let lastError = null;
  for (const build of builds) {
    try {
      const module = await instantiateBuild(base, build);
      if (build.threads > 1) build.threads = module.ccall('qplay_set_default_threads', 'number', ['number'], [build.threads]);
      module.qplayBuild = {name: build.name, threads: build.threads};
      return module;
    } catch (error) {
      lastError = error;
    }
  }
  throw new QPlayError(`QPlay's engine did not load (${lastError?.message || lastError})`);
}

async function instantiateBuild(base, build) {
  const name = `qplay-core${build.suffix}`;
  const {default: createQPlayCore} = await import(new URL(`${name}.js`, base).href);
  const options = {locateFile: (path) => new URL(path, base).href};
  const isNode = typeof process !== 'undefined' && process.versions?.node && typeof window === 'undefined';
  if (isNode) {
    // The module is built for the web; under node it gets the .wasm bytes instead of fetching them.
    const {readFile} = await import('node:fs/promises');
    options.wasmBinary = await readFile(new URL(`${name}.wasm`, base));
  }
  return createQPlayCore(options);
}

// Settings as a URL-hash text: {dataset: 'moons', weight_bits: 3} -> "dataset=moons&weight_bits=3".
function toHash(state) {
  if (state === undefined || state === null || state === '') return '';
  if (typeof state === 'string') return state.replace(/^#/, '');
  if (!isPlainObject(state)) {
    throw new QPlayError(`state must be a URL-hash string or an object of settings, got ${typeof state}`);
  }
  return Object.entries(state)
      .map(([key, value]) => `${encodeURIComponent(key)}=${encodeURIComponent(settingText(`state.${key}`, value))}`)
      .join('&');
}

function toFloat32(values) {
  return Float32Array.from(values, (v) => (v === null ? NaN : v));
}

// One run's numbers as a page wants them: plain numbers (NaN while not evaluated yet) and Float32Arrays.
// `evaluated` and `curve.complete` are true only for results of the run's weights as they are now.
const numberOrNaN = (value) => (value === null || value === undefined ? NaN : value);

function runMetrics(run) {
  const value = (entry) => (entry.accuracy === null ? NaN : entry.accuracy);
  return {
    method: run.method,
    epoch: run.epoch,
    epochs: run.epochs,
    steps: run.steps,
    error: run.error || null,
    accuracy: value(run.current),
    loss: run.current.loss === null ? NaN : run.current.loss,
    evaluated: run.current.current,
    // Share of test samples whose class differs from the float model's at this setting (NaN until known).
    flipRate: numberOrNaN(run.current.flip_rate),
    // The same among the quarter of test samples the float model decides most narrowly.
    lowMarginFlipRate: numberOrNaN(run.current.low_margin_flip_rate),
    floatAccuracy: value(run.float),
    curve: {
      weightBits: Int32Array.from(run.curve, (p) => p.weight_bits),  // 0 = float
      accuracy: toFloat32(run.curve.map((p) => p.accuracy)),
      complete: run.curve.every((p) => p.current),
    },
    readouts: run.readouts.map(({name, layer, value}) => ({name, layer, value})),
    learnedWeightBits: run.learned_weight_bits,
    history: {
      epoch: toFloat32(run.history.epoch),
      trainLoss: toFloat32(run.history.train_loss),  // cross-entropy; the objective adds trainPenalty
      trainPenalty: toFloat32(run.history.train_penalty),
      trainAccuracy: toFloat32(run.history.train_accuracy),
      testLoss: toFloat32(run.history.test_loss),
      testAccuracy: toFloat32(run.history.test_accuracy),
    },
  };
}

export class Lab {
  // Use createLab(); the constructor is internal.
  constructor(module, handle, warnings) {
    this._module = module;
    this._handle = handle;
    this._listeners = new Map();
    this._timer = null;
    // What the last slice saw, so events fire even when one slice trains every epoch at once.
    this._lastEpochs = [];
    this._wasPlaying = false;
    this.warnings = warnings;  // parts of the initial state that were skipped, with the reason
  }

  _call(name, returnType, argTypes, args) {
    if (this._handle === 0) throw new QPlayError('this lab was disposed');
    return engineCall(this._module, name, returnType, ['number', ...argTypes], [this._handle, ...args]);
  }
  _check(ok) {
    if (!ok) throw new QPlayError(engineCall(this._module, 'qplay_last_error', 'string', [], []));
  }

  // One setting, e.g. set('learning_rate', 0.1). Quantization settings apply at once; any other setting
  // restarts every run from the seed.
  set(key, value) {
    if (typeof key !== 'string') throw new QPlayError(`set: the key must be a string, got ${typeof key}`);
    const text = settingText(`set('${key}')`, value);
    this._check(this._call('qplay_lab_set', 'number', ['string', 'string'], [key, text]));
    this._emit('state', this.hash());
  }
  // Several settings; stops at the first bad one (the ones before it stay applied).
  setState(state) {
    if (!isPlainObject(state)) throw new QPlayError('setState: expected an object of settings, e.g. {weight_bits: 4}');
    for (const [key, value] of Object.entries(state)) this.set(key, value);
  }
  // The slider: {weights: 4, activations: 8}; 0 or 'float' means float.
  setBits(setting = {}) {
    if (!isPlainObject(setting)) throw new QPlayError('setBits: expected {weights, activations}, e.g. {weights: 4}');
    checkOptionNames('setBits', setting, ['weights', 'activations']);
    const {weights, activations} = setting;
    const bits = (b) => (b === 'float' || b === null ? 0 : b);
    if (weights !== undefined) this.set('weight_bits', bits(weights));
    if (activations !== undefined) this.set('activation_bits', bits(activations));
  }

  play() {
    this._call('qplay_lab_play', null, [], []);
    const m = this._status();
    this._lastEpochs = m.runs.map((r) => r.epoch);
    this._wasPlaying = m.playing;
    this._schedule();
  }
  pause() {
    this._call('qplay_lab_pause', null, [], []);
  }
  step() {
    this._call('qplay_lab_step', null, [], []);
    this._afterWork();
  }
  reset() {
    this._check(this._call('qplay_lab_reset', 'number', [], []));
  }
  // Trains until every run has trained its epochs (or options.epochs, which restarts the runs with that
  // many). Resolves with metrics() once training is done and the numbers are evaluated.
  async train(options = {}) {
    if (!isPlainObject(options)) throw new QPlayError('train: expected {epochs, budgetMs} or nothing');
    checkOptionNames('train', options, ['epochs', 'budgetMs']);
    const {epochs, budgetMs = DEFAULT_BUDGET_MS} = options;
    if (typeof budgetMs !== 'number' || !(budgetMs > 0) || !Number.isFinite(budgetMs)) {
      throw new QPlayError(`train: budgetMs must be a positive number of milliseconds, got ${String(budgetMs)}`);
    }
    if (epochs !== undefined && this.metrics().runs[0].epochs !== epochs) this.set('epochs', epochs);
    this._budgetMs = budgetMs;
    this.play();
    await this._until(() => !this._status().playing);
    return this.settle();
  }
  // Resolves with metrics() once every run is evaluated at the current setting and along its curve.
  async settle() {
    await this._until(() => {
      const m = this.metrics();
      return !m.playing && m.runs.every((r) => r.evaluated && r.curve.complete);
    });
    return this.metrics();
  }

  metrics() {
    const m = this._status();
    return {
      playing: m.playing,
      finished: m.finished,
      samplesPerSecond: m.samples_per_second,
      kernels: {name: m.kernels.name, threads: m.kernels.threads},  // the matrix kernels every run uses
      dataset: m.dataset,
      weightBits: m.weight_bits,
      activationBits: m.activation_bits,
      // The deployed size at the current setting (weights at their bits, scales, float biases).
      modelSize: {
        kilobytes: m.model_size.kilobytes,
        averageWeightBits: m.model_size.average_weight_bits,
        weightBitsPerLayer: Int32Array.from(m.model_size.weight_bits_per_layer),  // 32 = float
        floatKilobytes: m.model_size.float_kilobytes,
      },
      runs: m.runs.map(runMetrics),
    };
  }
  // The experiment as JSON text (a QPlay lab file) and back; importJson throws and changes nothing on a
  // bad file.
  exportJson() {
    return this._call('qplay_lab_state_json', 'string', [], []);
  }
  importJson(text) {
    this._check(this._call('qplay_lab_import_json', 'number', ['string'], [String(text)]));
    this._emit('state', this.hash());
  }
  // The state as a URL hash (without '#'), for links and iframes.
  hash() {
    return this._call('qplay_lab_state_hash', 'string', [], []);
  }
  // A copy of run i's float weights, in the layout of the model file (docs/formats.md).
  weights(run = 0) {
    this._checkRun('weights', run);
    const module = this._module;
    const countPointer = engineCall(module, 'malloc', 'number', ['number'], [4]);
    try {
      const pointer = this._call('qplay_lab_weights', 'number', ['number', 'number'], [run, countPointer]);
      if (!pointer) throw new QPlayError(engineCall(module, 'qplay_last_error', 'string', [], []));
      const count = module.getValue(countPointer, 'i32');
      // The threaded build's memory may have grown on a worker thread, which leaves HEAPF32 a view of
      // the old, shorter buffer: read its memory (exported there) directly.
      const heap = module.wasmMemory ? new Float32Array(module.wasmMemory.buffer) : module.HEAPF32;
      return heap.slice(pointer >> 2, (pointer >> 2) + count);
    } finally {
      if (!module.qplayStopped) module._free(countPointer);
    }
  }

  // Run i at the current setting (setBits, granularity, per-layer bits) as an ONNX QDQ model's bytes
  // (docs/formats.md): save them as a .onnx file or hand them to ONNX Runtime.
  exportOnnx({run = 0} = {}) {
    this._checkRun('exportOnnx', run);
    const module = this._module;
    const countPointer = engineCall(module, 'malloc', 'number', ['number'], [4]);
    try {
      const pointer = this._call('qplay_lab_export_onnx', 'number', ['number', 'number'], [run, countPointer]);
      if (!pointer) throw new QPlayError(engineCall(module, 'qplay_last_error', 'string', [], []));
      const count = module.getValue(countPointer, 'i32');
      const buffer = module.wasmMemory ? module.wasmMemory.buffer : module.HEAPF32.buffer;  // as in weights()
      return new Uint8Array(buffer).slice(pointer, pointer + count);
    } finally {
      if (!module.qplayStopped) module._free(countPointer);
    }
  }
  // The same model as a qplay-integer-model object (docs/formats.md); JSON.stringify gives the file.
  // Chooses each weighted layer's weight bits so the model fits a budget (average bits per weight, or KB),
  // on one run's weights, and sets them as the lab's layer_weight_bits (docs/methods.md, "Bit allocation
  // under a budget"). Blocks for about 10-300 ms.
  allocateBits({budgetBits, budgetKb, method = 'measured', run = 0, ...rest} = {}) {
    const unknown = Object.keys(rest);
    if (unknown.length) {
      throw new QPlayError(`allocateBits: unknown option '${unknown[0]}' (allowed: budgetBits, budgetKb, method, run)`);
    }
    this._checkRun('allocateBits', run);
    if ((budgetBits === undefined) === (budgetKb === undefined)) {
      throw new QPlayError('allocateBits: give exactly one of budgetBits and budgetKb');
    }
    const args = {run, method: String(method)};
    if (budgetBits !== undefined) args.budget_bits = Number(budgetBits);
    else args.budget_kb = Number(budgetKb);
    if (!Number.isFinite(args.budget_bits ?? args.budget_kb)) {
      throw new QPlayError(`allocateBits: the budget must be a finite number, got ${String(budgetBits ?? budgetKb)}`);
    }
    const text = this._call('qplay_lab_allocate', 'string', ['string'], [JSON.stringify(args)]);
    if (text === null || text === '') throw new QPlayError(engineCall(this._module, 'qplay_last_error', 'string', [], []));
    const reply = JSON.parse(text);
    this._emit('state', this.hash());
    return {
      method: reply.method,
      weightBits: reply.weight_bits,  // one per weighted layer: the new layer_weight_bits
      kilobytes: reply.kilobytes,
      averageWeightBits: reply.average_weight_bits,
      evaluations: reply.evaluations,
      hessianVectorProducts: reply.hessian_vector_products,
      milliseconds: reply.milliseconds,
    };
  }
  exportIntegerModel({run = 0} = {}) {
    this._checkRun('exportIntegerModel', run);
    const text = this._call('qplay_lab_export_integer_model', 'string', ['number'], [run]);
    if (text === null || text === '') throw new QPlayError(engineCall(this._module, 'qplay_last_error', 'string', [], []));
    return JSON.parse(text);
  }
  _checkRun(method, run) {
    const runs = this._status().runs.length;
    if (!Number.isInteger(run) || run < 0 || run >= runs) {
      throw new QPlayError(`${method}: run must be a whole number from 0 to ${runs - 1}, got ${String(run)}`);
    }
  }

  // Events: 'epoch' (a run finished an epoch: the metrics), 'metrics' (new numbers, at most once per
  // slice), 'finished' (training done), 'state' (a setting changed: the new hash).
  on(event, listener) {
    if (!this._listeners.has(event)) this._listeners.set(event, new Set());
    this._listeners.get(event).add(listener);
    return () => this.off(event, listener);
  }
  off(event, listener) {
    this._listeners.get(event)?.delete(listener);
  }

  dispose() {
    if (this._handle === 0) return;
    clearTimeout(this._timer);
    if (!this._module.qplayStopped) engineCall(this._module, 'qplay_lab_dispose', null, ['number'], [this._handle]);
    this._handle = 0;
    this._listeners.clear();
  }
  get disposed() {
    return this._handle === 0;
  }

  _status() {
    return JSON.parse(this._call('qplay_lab_metrics_json', 'string', [], []));
  }
  _emit(event, value) {
    for (const listener of this._listeners.get(event) || []) {
      try {
        listener(value);
      } catch (error) {
        console.error(error);
      }
    }
  }
  // Advances in slices from the event loop so the page stays responsive.
  _schedule() {
    if (this._timer !== null || this._handle === 0) return;
    this._timer = setTimeout(() => {
      this._timer = null;
      if (this._handle === 0) return;
      let playing, m;
      try {
        playing = this._call('qplay_lab_advance', 'number', ['number'], [this._budgetMs || DEFAULT_BUDGET_MS]);
        m = this._afterWork();
      } catch (error) {  // the engine stopped: say it once; a pending train() or settle() rejects with it
        console.error(error);
        return;
      }
      const evaluating = !m.runs.every((r) => r.evaluated && r.curve.complete);
      if (playing || evaluating) this._schedule();
      if (!playing && this._wasPlaying) this._emit('finished', m);
      this._wasPlaying = playing === 1;
    }, 0);
  }
  _afterWork() {
    const m = this.metrics();
    // An epoch event means some run trained further; a restart (epochs back to 0) is not one.
    const epochs = m.runs.map((r) => r.epoch);
    if (epochs.some((epoch, i) => epoch > (this._lastEpochs[i] ?? epoch))) this._emit('epoch', m);
    this._lastEpochs = epochs;
    this._emit('metrics', m);
    return m;
  }
  _until(done) {
    return new Promise((resolve, reject) => {
      const check = () => {
        if (this._handle === 0) return reject(new QPlayError('this lab was disposed'));
        try {
          if (done()) return resolve();
        } catch (error) {
          return reject(error);
        }
        this._schedule();
        setTimeout(check, 0);
      };
      check();
    });
  }
}

// Which build of the engine this page runs: {name: 'threads' | 'simd' | 'nosimd', threads}, threads being
// the kernel threads a new lab uses by default (qplay-build.js says when each is chosen). options.baseUrl
// as createLab's.
export async function describeBuild(options = {}) {
  if (!isPlainObject(options)) throw new QPlayError('describeBuild: expected {baseUrl} or nothing');
  checkOptionNames('describeBuild', options, ['baseUrl']);
  const module = await loadModule(options.baseUrl);
  return {...module.qplayBuild};
}

// Every setting a lab takes (key, kind, group, help, min/max or choices, default, appliesWhen) and every
// method (name, summary, and the names of the readouts its runs report in metrics().runs[i].readouts), from
// the engine's one state table; a page can build its own controls from it. options.baseUrl as createLab's.
export async function describeSettings(options = {}) {
  if (!isPlainObject(options)) throw new QPlayError('describeSettings: expected {baseUrl} or nothing');
  checkOptionNames('describeSettings', options, ['baseUrl']);
  const module = await loadModule(options.baseUrl);
  const table = JSON.parse(engineCall(module, 'qplay_state_table_json', 'string', [], []));
  return {
    settings: table.settings.map(({applies_when: appliesWhen, ...row}) => (appliesWhen ? {...row, appliesWhen} : row)),
    methods: table.methods,
  };
}

// A new lab. options.state: a URL-hash text or an object of settings (including methods); bad parts
// are skipped (lab.warnings says which and why). options.baseUrl: where qplay-core.js/.wasm are, if
// not next to this file.
export async function createLab(options = {}) {
  if (!isPlainObject(options)) throw new QPlayError('createLab: expected {state, baseUrl} or nothing');
  checkOptionNames('createLab', options, ['state', 'baseUrl']);
  const {state, baseUrl} = options;
  const module = await loadModule(baseUrl);
  const handle = engineCall(module, 'qplay_lab_create', 'number', ['string'], [toHash(state)]);
  if (!handle) throw new QPlayError(engineCall(module, 'qplay_last_error', 'string', [], []));
  const warnings = engineCall(module, 'qplay_last_warnings', 'string', [], []);
  return new Lab(module, handle, warnings ? warnings.split('\n') : []);
}
