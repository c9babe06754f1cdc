// The build without WebAssembly SIMD (preset wasm-nosimd), as a browser without SIMD gets it, under node:
// - its .wasm holds no SIMD instruction (binaryen's wasm-dis), while the default build's does, so a
//   browser without SIMD can compile it;
// - with WebAssembly.validate refusing SIMD (what qplay-build.js asks), qplay.js loads qplay-core-nosimd,
//   and a lab trains and predicts (test accuracy well above chance) on the reference kernels;
// - its weights equal the SIMD build's bit for bit (simd128 adds in the reference's order), loaded in
//   the same process from a second copy of qplay.js that still sees SIMD.
//   node tests/web/nosimd_fallback_test.mjs <build/wasm/web/api: qplay.js, qplay-core.*, qplay-core-nosimd.*>
import {execFileSync} from 'node:child_process';
import {existsSync} from 'node:fs';
import path from 'node:path';
import {pathToFileURL} from 'node:url';

const [apiDir] = process.argv.slice(2);
if (!apiDir) {
  console.error('usage: node nosimd_fallback_test.mjs <dir with qplay.js, qplay-core.* and qplay-core-nosimd.*>');
  process.exit(2);
}
for (const name of ['qplay.js', 'qplay-build.js', 'qplay-core.wasm', 'qplay-core-nosimd.js', 'qplay-core-nosimd.wasm']) {
  if (!existsSync(path.join(apiDir, name))) {
    console.error(`nosimd: ${path.join(apiDir, name)} is missing (build the wasm preset, then wasm-nosimd)`);
    process.exit(1);
  }
}

const failures = [];
function check(condition, message) {
  console.log(`${condition ? 'ok  ' : 'FAIL'} ${message}`);
  if (!condition) failures.push(message);
}

// SIMD instructions in a module's text form: v128 values and the lane-typed operations.
function simdInstructions(wasmFile) {
  const text = execFileSync('wasm-dis', [wasmFile], {maxBuffer: 1 << 30, encoding: 'utf8'});
  return (text.match(/\b(v128|[if](8x16|16x8|32x4|64x2))\.[a-z_]+/g) || []).length;
}
check(simdInstructions(path.join(apiDir, 'qplay-core.wasm')) > 0, 'the default build uses SIMD instructions');
check(simdInstructions(path.join(apiDir, 'qplay-core-nosimd.wasm')) === 0, 'the nosimd build has none');

const state = {dataset: 'moons', samples: 600, architecture: 'mlp:16', epochs: 10, methods: 'baseline,symreg'};
const moduleUrl = (copy) => `${pathToFileURL(path.join(apiDir, 'qplay.js')).href}?copy=${copy}`;

async function trainWith(api) {
  const lab = await api.createLab({state});
  const metrics = await lab.train();
  const weights = metrics.runs.map((_, run) => lab.weights(run));
  lab.dispose();
  return {build: await api.describeBuild(), metrics, weights};
}

try {
  // A browser with SIMD: the default build.
  const simd = await trainWith(await import(moduleUrl('simd')));
  check(simd.build.name === 'simd' && simd.build.threads === 1, `with SIMD: ${JSON.stringify(simd.build)}`);

  // A browser without: its validate refuses the SIMD probe (nothing else is asked of it).
  const validate = WebAssembly.validate;
  let probes = 0;
  WebAssembly.validate = (bytes) => {
    ++probes;
    return false;
  };
  let plain;
  try {
    plain = await trainWith(await import(moduleUrl('nosimd')));
  } finally {
    WebAssembly.validate = validate;
  }
  check(probes === 1, `qplay.js asked WebAssembly.validate once (${probes})`);
  check(plain.build.name === 'nosimd' && plain.build.threads === 1, `without SIMD: ${JSON.stringify(plain.build)}`);
  check(plain.metrics.kernels.name === 'reference' && simd.metrics.kernels.name === 'simd128',
        `kernels: ${plain.metrics.kernels.name} without SIMD, ${simd.metrics.kernels.name} with`);
  for (const [i, run] of plain.metrics.runs.entries()) {
    check(run.epoch === 10 && run.floatAccuracy > 0.75 && run.evaluated,
          `${run.method} trained without SIMD: test accuracy ${run.floatAccuracy.toFixed(3)} (chance 0.5)`);
    const same = run.floatAccuracy === simd.metrics.runs[i].floatAccuracy && plain.weights[i].length > 0 &&
        Buffer.compare(Buffer.from(plain.weights[i].buffer), Buffer.from(simd.weights[i].buffer)) === 0;
    check(same, `${run.method}: weights and accuracy equal the SIMD build's bit for bit`);
  }
} catch (error) {
  check(false, `unexpected error: ${error.stack || error}`);
}

console.log(failures.length ? `nosimd fallback: ${failures.length} check(s) failed` : 'nosimd fallback: all checks passed');
process.exit(failures.length ? 1 : 0);
