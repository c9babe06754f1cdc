// ONNX Runtime as the inference reference of tools/bench/run.sh: the W1 and W2 networks that
// bench_torch.py --export-onnx writes (same seed, so the same weights as PyTorch's), timed with the same
// batches and repetition scheme as bench_torch.py's w1-infer / w2-infer, natively (onnxruntime-node, its
// bundled CPU library) at each thread count and in WebAssembly (onnxruntime-web under node, one thread,
// SIMD). Prints one JSON document (--json) or a table. Not a test: numbers only.
//   node tools/bench/bench_onnxruntime.mjs ONNX_DIR [--threads=1,2] [--repetitions=10] [--json]
import {readFileSync} from 'node:fs';
import path from 'node:path';
import {createRequire} from 'node:module';

const require = createRequire(import.meta.url);
const args = process.argv.slice(2);
const directory = args.find((a) => !a.startsWith('--'));
const option = (name, fallback) => (args.find((a) => a.startsWith(`--${name}=`)) ?? `=${fallback}`).split('=')[1];
if (!directory) {
  console.error('usage: node bench_onnxruntime.mjs ONNX_DIR [--threads=1,2] [--repetitions=10] [--json]');
  process.exit(2);
}
const threadCounts = option('threads', '1,2').split(',').map(Number);
const repetitions = Number(option('repetitions', '10'));
const {workloads} = JSON.parse(readFileSync(path.join(directory, 'workloads.json'), 'utf8'));

// Uniform pixels from a fixed seed (xorshift32), as many samples as the workload's pool of batches.
function randomSamples(count) {
  const values = new Float32Array(count);
  let state = 20240611;
  for (let i = 0; i < count; ++i) {
    state ^= state << 13, state ^= state >>> 17, state ^= state << 5;
    values[i] = (state >>> 0) / 4294967296;
  }
  return values;
}

const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

// Seconds per sample of each timed repetition, after one untimed warm-up.
async function measure(ort, session, workload) {
  const sampleSize = workload.shape.reduce((a, b) => a * b, 1);
  const pool = randomSamples(workload.batch * workload.pool_batches * sampleSize);
  const values = [];
  let step = 0;
  for (let r = -1; r < repetitions; ++r) {
    const start = process.hrtime.bigint();
    for (let i = 0; i < workload.infer_steps; ++i, ++step) {
      const first = (step % workload.pool_batches) * workload.batch * sampleSize;
      const input = new ort.Tensor('float32', pool.subarray(first, first + workload.batch * sampleSize),
                                   [workload.batch, ...workload.shape]);
      await session.run({input});
    }
    const seconds = Number(process.hrtime.bigint() - start) / 1e9;
    if (r >= 0) values.push(seconds / (workload.infer_steps * workload.batch));
  }
  return values;
}

function row(workload, kernels, threads, secondsPerSample) {
  const samplesPerSecond = secondsPerSample.map((s) => 1 / s);
  return {workload: workload.workload, kernels, threads, unit: 'samples/s', median: median(samplesPerSecond),
          min: Math.min(...samplesPerSecond), max: Math.max(...samplesPerSecond), values: samplesPerSecond,
          details: {batch: workload.batch}};
}

const results = [];
const ortNode = require('onnxruntime-node');
for (const workload of workloads) {
  for (const threads of threadCounts) {
    const session = await ortNode.InferenceSession.create(workload.model, {
      intraOpNumThreads: threads, interOpNumThreads: 1, executionMode: 'sequential',
      graphOptimizationLevel: 'all'});
    results.push(row(workload, 'onnxruntime', threads, await measure(ortNode, session, workload)));
    await session.release();
  }
}
const ortWeb = require('onnxruntime-web');
ortWeb.env.wasm.numThreads = 1;  // a page without cross-origin isolation has one thread
for (const workload of workloads) {
  const session = await ortWeb.InferenceSession.create(new Uint8Array(readFileSync(workload.model)),
                                                       {executionProviders: ['wasm'], graphOptimizationLevel: 'all'});
  results.push(row(workload, 'onnxruntime-web', 1, await measure(ortWeb, session, workload)));
  await session.release();
}

const version = require('onnxruntime-node/package.json').version;
if (args.includes('--json')) {
  console.log(JSON.stringify({tool: 'bench_onnxruntime.mjs', onnxruntime_version: version, repetitions, results},
                             null, 2));
} else {
  console.log(`ONNX Runtime ${version}`);
  for (const r of results)
    console.log(`${r.workload.padEnd(12)} ${r.kernels.padEnd(16)} ${String(r.threads).padStart(2)} threads ` +
                `${Math.round(r.median).toLocaleString('en').padStart(10)} samples/s`);
}
