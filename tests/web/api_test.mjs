// The JavaScript API (web/api/qplay.js) against the headless module, under node: training, the slider,
// events, several independent labs, export/import, bad input — and the same numbers as the native
// engine for the same seed.
//   node tests/web/api_test.mjs <dir with qplay.js + qplay-core.*> [<native qplay-cli>]
// The WebAssembly build runs the simd128 kernels, which sum in the reference kernels' order, and the
// engine computes exp, log, tanh and cos itself, so its weights after training equal a native run with
// --kernels=reference bit for bit.
import {execFileSync} from 'node:child_process';
import {mkdtempSync, readFileSync, existsSync} from 'node:fs';
import {tmpdir} from 'node:os';
import path from 'node:path';
import {pathToFileURL} from 'node:url';

const [apiDir, nativeCli] = process.argv.slice(2);
const {createLab, describeSettings, QPlayError} = await import(pathToFileURL(path.join(apiDir, 'qplay.js')).href);

const failures = [];
function check(condition, message) {
  console.log(`${condition ? 'ok  ' : 'FAIL'} ${message}`);
  if (!condition) failures.push(message);
}
function throwsQPlayError(fn, mentions) {
  try {
    fn();
  } catch (error) {
    return error instanceof QPlayError && error.message.includes(mentions);
  }
  return false;
}

const small = {dataset: 'spiral', samples: 600, architecture: 'mlp:16', epochs: 3, methods: 'baseline'};

try {
  // Training, with events.
  const lab = await createLab({state: small});
  let epochEvents = 0, finishedEvents = 0;
  lab.on('epoch', () => ++epochEvents);
  lab.on('finished', () => ++finishedEvents);
  const trained = await lab.train();
  const run = trained.runs[0];
  check(run.epoch === 3 && run.history.testAccuracy.length === 3, `trained 3 epochs (${run.epoch})`);
  check(run.floatAccuracy > 0.5 && run.accuracy > 0 && run.evaluated,
        `test accuracy in float ${run.floatAccuracy.toFixed(3)}, at the slider's setting ${run.accuracy.toFixed(3)}`);
  check(run.curve.weightBits.length === 8 && run.curve.complete && run.curve.accuracy instanceof Float32Array,
        'the accuracy-vs-bits curve has float and 8..2 bits');
  check(epochEvents >= 1 && finishedEvents === 1, `events: ${epochEvents} epoch, ${finishedEvents} finished`);

  // The state table as a page sees it: ranges, choices, when a setting applies, and the methods' readouts.
  const table = await describeSettings();
  const row = (key) => table.settings.find((r) => r.key === key);
  check(row('weight_bits')?.min === 0 && row('weight_bits')?.max === 8 && row('weight_bits')?.kind === 'integer',
        'describeSettings: weight_bits is an integer from 0 to 8');
  check(row('range_method')?.choices.join() === 'min-max,percentile,mse' && /percentile/.test(row('percentile')?.appliesWhen),
        'describeSettings: range choices, and the percentile applies only with percentile ranges');
  const cpqMethod = table.methods.find((m) => m.name === 'cpq');
  check(cpqMethod?.readouts.includes('learned weight bits') && table.methods.length === row('method').choices.length,
        `describeSettings: ${table.methods.length} methods with their readouts`);
  const exported = Object.keys(JSON.parse(lab.exportJson()).settings);
  check(exported.length === table.settings.length && exported.every((key) => row(key)),
        `every one of the ${exported.length} settings a lab exports is in the table`);

  // A slice long enough to train every epoch at once still reports them (a fast machine does this).
  const oneSlice = await createLab({state: small});
  let oneSliceEpochs = 0, oneSliceFinished = 0;
  oneSlice.on('epoch', () => ++oneSliceEpochs);
  oneSlice.on('finished', () => ++oneSliceFinished);
  await oneSlice.train({budgetMs: 60000});
  check(oneSliceEpochs === 1 && oneSliceFinished === 1,
        `events when one slice trains everything: ${oneSliceEpochs} epoch, ${oneSliceFinished} finished`);
  oneSlice.set('learning_rate', 0.05);
  await oneSlice.settle();
  check(oneSliceEpochs === 1, 'a restart is not an epoch event');
  oneSlice.dispose();

  // Numbers are of the final weights whatever the slice budget: the same seed trained in slices of
  // 0.5 ms to one slice for everything gives the same weights, so the same accuracies at every point of
  // every curve (losses to float summation order, chunks differ).
  const budgets = [0.5, 2, 8, 50, 1e9];
  const finals = [];
  for (const budgetMs of budgets) {
    const budgetLab = await createLab({state: {...small, methods: 'baseline,gradl1', weight_bits: 3}});
    const m = await budgetLab.train({budgetMs});
    finals.push(m.runs.map((r) => [r.accuracy, r.floatAccuracy, ...r.curve.accuracy, r.loss]));
    budgetLab.dispose();
  }
  const sameAsFirst = (numbers) => numbers.every((run, r) => run.every((value, i) =>
      i === run.length - 1 ? Math.abs(value - finals[0][r][i]) <= 1e-6 * Math.abs(value) : value === finals[0][r][i]));
  check(finals.every(sameAsFirst),
        `the same metrics after train() with budgets ${budgets.join(', ')} ms: ` +
        finals.map((f) => f.map((run) => (100 * run[0]).toFixed(1)).join('/')).join(', '));

  // The slider.
  lab.setBits({weights: 3});
  const at3 = (await lab.settle()).runs[0];
  check(at3.accuracy !== at3.floatAccuracy, `3-bit accuracy ${at3.accuracy.toFixed(3)} vs float ${at3.floatAccuracy.toFixed(3)}`);
  check(/weight_bits=3/.test(lab.hash()), `the hash follows (${lab.hash()})`);
  check(at3.flipRate >= Math.abs(at3.accuracy - at3.floatAccuracy) - 1e-6 && at3.flipRate <= 1,
        `the flip rate (${at3.flipRate}) is at least the accuracy change and at most 1`);
  check(at3.lowMarginFlipRate >= 0 && at3.lowMarginFlipRate <= 1,
        `the low-margin flip rate (${at3.lowMarginFlipRate}) is a share`);
  // The size follows the slider: 3-bit weights take 3/32 of the float weights, plus scales and float biases.
  const size3 = lab.metrics().modelSize;
  check(size3.averageWeightBits === 3 && size3.weightBitsPerLayer.every((b) => b === 3) &&
        size3.kilobytes < size3.floatKilobytes / 2,
        `model size at 3 bits: ${size3.kilobytes.toFixed(3)} KB, ${size3.averageWeightBits} bits per weight ` +
        `(float ${size3.floatKilobytes.toFixed(3)} KB)`);

  // Bits under a budget: the chosen per-layer bits become layer_weight_bits and fit the budget.
  const allocated = lab.allocateBits({budgetBits: 3.5, method: 'measured'});
  const afterAllocation = lab.metrics();
  check(allocated.weightBits.length === afterAllocation.modelSize.weightBitsPerLayer.length &&
        allocated.weightBits.every((b, i) => b === afterAllocation.modelSize.weightBitsPerLayer[i]) &&
        allocated.averageWeightBits <= 3.5 && allocated.evaluations > 0 &&
        [',', '%2C'].some((comma) => lab.hash().includes(`layer_weight_bits=${allocated.weightBits.join(comma)}`)),
        `allocateBits({budgetBits: 3.5}) chose ${allocated.weightBits} (${allocated.averageWeightBits.toFixed(2)} ` +
        `bits per weight) and the lab took them (${lab.hash()})`);
  for (const [options, expected] of [[{budgetBits: 1}, /smallest/], [{budgetBits: 3, budgetKb: 1}, /exactly one/],
                                     [{budgetBits: 3, method: 'greedy'}, /not one of/], [{budget: 3}, /unknown option/]]) {
    let message = '';
    try { lab.allocateBits(options); } catch (error) { message = error.message; }
    check(expected.test(message), `allocateBits(${JSON.stringify(options)}) refused: ${message}`);
  }
  lab.set('layer_weight_bits', '');

  // Export at the current setting: an ONNX model's bytes and the integer model (docs/formats.md).
  const onnx = lab.exportOnnx();
  check(onnx instanceof Uint8Array && onnx[0] === 8 && onnx[1] === 7 && onnx.length > 200,
        `exportOnnx gives the bytes of an IR-7 ONNX model (${onnx.length} bytes)`);
  const integerModel = lab.exportIntegerModel({run: 0});
  const weighted = integerModel.layers.filter((layer) => layer.weights);
  check(integerModel.format === 'qplay-integer-model' && weighted.length === 2 &&
        weighted.every((layer) => layer.weights.bits === 3 && layer.weights.codes.every((q) => Math.abs(q) <= 3)),
        'exportIntegerModel gives 3-bit codes for both layers');
  check(throwsQPlayError(() => lab.exportOnnx({run: 1}), 'run') &&
        throwsQPlayError(() => lab.exportIntegerModel({run: -1}), 'run'), 'the exports take only an existing run');

  // The same numbers as the native engine, bit for bit: every method trained here and by qplay-cli with
  // the reference kernels (simd128 adds in the reference's order; the engine's own exp, log, tanh, cos
  // replace the C library's, whose last bits differ between glibc and musl).
  if (nativeCli && existsSync(nativeCli)) {
    const work = mkdtempSync(path.join(tmpdir(), 'qplay-api-'));
    const methods = ['baseline', 'gradl1', 'symreg', 'qreg', 'cpq', 'raq'];
    const compared = {...small, granularity: 'per-tensor', weight_bits: 2};
    const everyMethod = await createLab({state: {...compared, methods: methods.join(',')}});
    await everyMethod.train();
    const flags = Object.entries(compared).filter(([k]) => k !== 'methods').map(([k, v]) => `--${k}=${v}`);
    const differing = [];
    methods.forEach((method, run) => {
      execFileSync(nativeCli, ['train', ...flags, `--method=${method}`, '--kernels=reference', '--quiet=1',
                               `--out=${work}/${method}.qmodel`]);
      execFileSync(nativeCli, ['export', `--model=${work}/${method}.qmodel`, `--out=${work}/${method}.json`]);
      // The export writes each float in the fewest digits that read back as that float.
      const native = JSON.parse(readFileSync(`${work}/${method}.json`, 'utf8')).tensors.flatMap((t) => t.values);
      const ours = everyMethod.weights(run);
      const different = native.filter((value, i) => Math.fround(value) !== ours[i]).length;
      if (ours.length !== native.length || different > 0) differing.push(`${method}: ${different} of ${native.length}`);
    });
    execFileSync(nativeCli, ['export', `--model=${work}/baseline.qmodel`, '--format=onnx', '--granularity=per-tensor',
                             '--weight_bits=2', `--out=${work}/baseline.onnx`]);
    const nativeOnnx = readFileSync(`${work}/baseline.onnx`);
    check(Buffer.compare(nativeOnnx, Buffer.from(everyMethod.exportOnnx({run: 0}))) === 0,
          `the lab's ONNX export is byte for byte qplay-cli export --format=onnx's (${nativeOnnx.length} bytes)`);
    check(throwsQPlayError(() => everyMethod.exportOnnx({run: methods.indexOf('cpq')}), 'grid it learned'),
          'a CPQ run is refused: it rounds on its own learned grid');
    everyMethod.dispose();
    check(differing.length === 0,
          `every method's weights equal the native engine's with --kernels=reference, bit for bit` +
          (differing.length ? ` (differing: ${differing.join(', ')})` : ''));
  } else {
    console.log('skip the native comparison: no qplay-cli given (build the native-release preset first)');
  }

  // A regularized method reports its penalty beside the cross-entropy; plain training has none.
  const regularized = await createLab({state: {...small, methods: 'baseline,gradl1'}});
  const history = (await regularized.train()).runs.map((r) => r.history);
  check(history[0].trainPenalty.every((p) => p === 0) && history[1].trainPenalty.every((p) => p > 0) &&
        history[1].trainPenalty.length === history[1].trainLoss.length,
        `gradient-l1's penalty per epoch (${Array.from(history[1].trainPenalty, (p) => p.toFixed(4)).join(', ')})`);
  regularized.dispose();

  // What a method learned: CPQ's bit-width per weighted layer.
  const cpq = await createLab({state: {...small, methods: 'baseline,cpq', cpq_bits: 4, cpq_learn_bits: 'on'}});
  const learned = (await cpq.train()).runs;
  const bits = learned[1].learnedWeightBits;
  check(learned[0].readouts.length === 0 && learned[0].learnedWeightBits === null, 'the baseline learned no read-outs');
  check(Array.isArray(bits) && bits.length === 2 && bits.every((b) => Number.isInteger(b) && b >= 1 && b <= 4),
        `CPQ's learned bits per layer (${bits})`);
  check(learned[1].readouts.some((r) => r.name === 'step α' && r.layer >= 0 && r.value > 0), 'and its learned steps');
  cpq.setBits({weights: 4});
  cpq.set('layer_weight_bits', bits);
  check(new RegExp(`layer_weight_bits=${bits.join('%2C')}|layer_weight_bits=${bits.join(',')}`).test(cpq.hash()),
        `the learned bits are a layer_weight_bits value (${cpq.hash()})`);
  cpq.dispose();

  // Several labs stay independent; a disposed one says so.
  const other = await createLab({state: {...small, dataset: 'moons'}});
  check(!/weight_bits=3/.test(other.hash()) && /dataset=moons/.test(other.hash()), 'a second lab has its own state');
  other.dispose();
  check(throwsQPlayError(() => other.metrics(), 'disposed'), 'a disposed lab throws QPlayError');
  check(lab.metrics().runs[0].epoch === 3, 'the first lab is untouched by the second');

  // Bad input: a clear error, nothing changed.
  const before = lab.hash();
  check(throwsQPlayError(() => lab.set('learning_rate', 'fast'), 'learning_rate'), 'a bad value throws, naming the setting');
  check(throwsQPlayError(() => lab.set('no_such_setting', 1), 'no_such_setting'), 'an unknown setting throws');
  // Too large for a browser tab's memory: refused with the reason, and the module keeps working.
  check(throwsQPlayError(() => lab.set('architecture', 'mlp:4096,4096,4096,4096'), 'parameters'),
        'a network too large to train here throws, saying why');
  check(throwsQPlayError(() => lab.importJson('{"format": '), ''), 'a broken JSON import throws');
  check(throwsQPlayError(() => lab.importJson('{"format": "qplay-lab", "version": 1, "settings": {}, "methods": ["x"]}'),
                         "unknown method 'x'"), 'an import naming an unknown method throws');
  check(lab.hash() === before, 'and the lab is as it was');
  const forgiving = await createLab({state: 'dataset=moons&weight_bits=99&methods=baseline,nope'});
  check(forgiving.warnings.length === 2 && /dataset=moons/.test(forgiving.hash()),
        `a bad hash keeps its good parts and warns (${forgiving.warnings.join(' | ')})`);

  // Export and import.
  const copy = await createLab();
  copy.importJson(lab.exportJson());
  check(copy.hash() === lab.hash(), 'exportJson -> importJson reproduces the state');
  for (const l of [lab, forgiving, copy]) l.dispose();

  // Hostile arguments: each a QPlayError naming what is wrong, every promise settles, nothing traps.
  const hostile = await createLab({state: small});
  const huge = 'x'.repeat(2_000_000);
  check(throwsQPlayError(() => hostile.set('architecture', huge), 'architecture') &&
        throwsQPlayError(() => hostile.importJson(huge), '') && /samples=600/.test(hostile.hash()),
        'strings of 2,000,000 characters are refused, not copied onto the stack (the module used to trap)');
  const rejects = async (promise) => promise.then(() => false, (error) => error instanceof QPlayError);
  const hugeLab = await createLab({state: 'samples=600&' + huge}).catch((error) => error);
  check(hugeLab instanceof QPlayError || hugeLab.warnings?.length > 0,
        'a createLab state of 2,000,000 characters settles (refused or warned about)');
  if (!(hugeLab instanceof QPlayError)) hugeLab.dispose();
  let settled = 0;
  for (const budgetMs of [-5, 'abc', NaN, 0, Infinity]) settled += await rejects(hostile.train({budgetMs}));
  const tiny = await hostile.train({budgetMs: 0.001});
  check(settled === 5 && tiny.runs.every((run) => run.evaluated && run.curve.complete),
        `train({budgetMs}) rejects -5, 'abc', NaN, 0 and Infinity with a QPlayError (${settled} of 5) and settles ` +
        'with every number current for 0.001 ms slices');
  check(throwsQPlayError(() => hostile.setBits({activations: 1}), '1-bit activations'),
        'setBits refuses 1-bit activations, as createLab and importJson do');
  check(throwsQPlayError(() => hostile.setBits(null), 'setBits') && throwsQPlayError(() => hostile.setState(null), 'setState') &&
        throwsQPlayError(() => hostile.set(null, 4), 'key') && throwsQPlayError(() => hostile.set('epochs', null), 'epochs'),
        'null arguments are QPlayErrors, not TypeErrors');
  check(await rejects(createLab({state: 5})) && await rejects(createLab({state: [1, 2]})),
        'createLab refuses a state that is neither a hash nor an object');
  // An option a call does not know would be ignored: refused, so a typo does not silently do nothing.
  check(throwsQPlayError(() => hostile.setBits({weight: 4}), "unknown option 'weight'") &&
        await rejects(hostile.train({epoch: 5})) && await rejects(createLab({stat: 'dataset=moons'})) &&
        await rejects(createLab(null)),
        'setBits({weight}), train({epoch}), createLab({stat}) and createLab(null) are refused with a QPlayError');
  check(throwsQPlayError(() => hostile.set('weight_bits\u0000', 4), 'NUL') && !/weight_bits=4/.test(hostile.hash()),
        'a key with a NUL character is refused, not cut short');
  check(throwsQPlayError(() => hostile.weights(2 ** 32), 'run') && throwsQPlayError(() => hostile.weights(-1), 'run') &&
        throwsQPlayError(() => hostile.weights(0.5), 'run') && hostile.weights(0).length > 0,
        'weights(run) takes only an existing run');
  hostile.dispose();

  // What one way accepts the others accept, and every state round-trips through its hash and its JSON.
  const choices = {dataset: ['spiral', 'moons', 'circles', 'xor', 'blobs'], weight_bits: [0, 2, 3, 4, 5, 8],
                   activation_bits: [0, 2, 4, 8], granularity: ['per-channel', 'per-tensor'],
                   range_method: ['min-max', 'percentile', 'mse'], methods: ['baseline', 'baseline,gradl1', 'qreg,cpq,raq'],
                   learning_rate: [0.01, 0.05, 0.3], seed: [1, 7, 4294967295], classes: [2, 3, 7]};
  let seed = 12345;
  const random = (n) => (seed = (seed * 1103515245 + 12345) % 2147483648) % n;
  let roundTrips = 0;
  const failedStates = [];
  for (let i = 0; i < 25; ++i) {
    const state = {...small};
    for (const [key, values] of Object.entries(choices)) if (random(2)) state[key] = values[random(values.length)];
    const made = await createLab({state});
    const viaHash = await createLab({state: made.hash()});
    const viaJson = await createLab();
    viaJson.importJson(made.exportJson());
    const viaSetters = await createLab({state: small});
    viaSetters.setState(Object.fromEntries(Object.entries(state)));
    const same = [viaHash, viaJson, viaSetters].every((other) => other.hash() === made.hash());
    roundTrips += same ? 1 : 0;
    if (!same) failedStates.push(made.hash());
    for (const l of [made, viaHash, viaJson, viaSetters]) l.dispose();
  }
  check(roundTrips === 25, `25 random states round-trip through hash(), exportJson/importJson and setState` +
        (failedStates.length ? ` (not: ${failedStates.join(' | ')})` : ''));

  // Last, because it stops the shared module: a WebAssembly trap (as an abort or out-of-memory would
  // raise) becomes a QPlayError, and every lab of the page then refuses clearly instead of misbehaving.
  const first = await createLab({state: small}), second = await createLab({state: small});
  const module = first._module, ccall = module.ccall;
  module.ccall = (name, ...rest) => {
    if (name === 'qplay_lab_advance') throw new WebAssembly.RuntimeError('unreachable');
    return ccall.call(module, name, ...rest);
  };
  const errors = [], consoleError = console.error;
  console.error = (error) => errors.push(error);
  let rejected = null;
  try {
    await first.train();
  } catch (error) {
    rejected = error;
  }
  console.error = consoleError;
  module.ccall = ccall;
  check(rejected instanceof QPlayError && /engine stopped/.test(rejected.message),
        `a trap while training rejects train() with a QPlayError (${rejected?.message})`);
  check(throwsQPlayError(() => second.metrics(), 'stopped earlier'), 'and the other labs refuse with the reason');
  let disposed = true;
  try {
    first.dispose();
    second.dispose();
  } catch {
    disposed = false;
  }
  check(disposed && errors.length === 1, `disposing them is quiet (${errors.length} console error for the trap)`);
} catch (error) {
  check(false, `test stopped: ${error.stack || error}`);
}
console.log(failures.length === 0 ? 'api: all checks passed' : `api: ${failures.length} check(s) failed`);
process.exit(failures.length === 0 ? 0 : 1);
