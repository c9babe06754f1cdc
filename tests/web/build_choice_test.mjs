// Which WebAssembly build a page loads, in Debian's chromium (playwright-core): the threaded build when
// the page is cross-origin isolated (served with COOP/COEP, as tools/serve.sh does), the SIMD build
// when it is not, and the SIMD build again, silently, on a host without the threaded build's files. For
// the JavaScript module (qplay.js), the app (index.html) and the element (its app in an iframe). On the
// threaded build a lab's kernels really run on 2+ threads (their GEMMs are large enough to be split)
// and train to the same weights, bit for bit, as the SIMD build's.
//   node tests/web/build_choice_test.mjs <build/wasm/web, with the wasm and wasm-threads builds in it>
// Exit code 0 when every check passes, 1 otherwise.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import {serveStatic} from '../../tools/web/static_server.mjs';

const CHROMIUM = process.env.QPLAY_CHROMIUM || '/usr/bin/chromium';
const TIMEOUT = 90000;

const [webDir] = process.argv.slice(2);
if (!webDir) {
  console.error('usage: node build_choice_test.mjs <build>/web');
  process.exit(2);
}
let playwright;
try {
  playwright = await import('playwright-core');
} catch (error) {
  console.error(`build choice: playwright-core is not installed (${error.message}); run tools/setup.sh (npm ci)`);
  process.exit(1);
}
for (const file of [CHROMIUM, 'app/index.html', 'app/qplay-app.wasm', 'app/qplay-app-threads.wasm',
                    'app/qplay-app-threads.worker.js', 'api/qplay.js', 'api/qplay-core.wasm',
                    'api/qplay-core-threads.wasm', 'api/qplay-core-threads.worker.js']) {
  const full = path.isAbsolute(file) ? file : path.join(webDir, file);
  if (!fs.existsSync(full)) {
    console.error(`build choice: ${full} is missing (build the wasm preset, then wasm-threads)`);
    process.exit(1);
  }
}

const failures = [];
function check(condition, message) {
  console.log(`${condition ? 'ok  ' : 'FAIL'} ${message}`);
  if (!condition) failures.push(message);
}

// A lab whose hidden layers' GEMMs (2 x 64 x 384 x 384 = 19 MFLOP) are above the threaded table's split
// threshold. The page reports the build, the kernels and a digest of every run's trained weights.
const API_PAGE = `<!doctype html><meta charset="utf-8"><title>api</title>
<script type="module">
  import {createLab, describeBuild} from '../api/qplay.js';
  try {
    const lab = await createLab({state: {dataset: 'spiral', samples: 800, architecture: 'mlp:384,384',
                                         batch_size: 64, epochs: 2, methods: 'baseline,symreg'}});
    const metrics = await lab.train();
    const digests = [];
    for (let run = 0; run < metrics.runs.length; ++run) {
      const bytes = await crypto.subtle.digest('SHA-256', lab.weights(run));
      digests.push([...new Uint8Array(bytes)].map((b) => b.toString(16).padStart(2, '0')).join(''));
    }
    window.result = {isolated: self.crossOriginIsolated, build: await describeBuild(), kernels: metrics.kernels,
                     accuracy: metrics.runs.map((r) => r.floatAccuracy), digests};
  } catch (error) {
    window.result = {error: String(error.stack || error)};
  }
</script>`;
const ELEMENT_PAGE = `<!doctype html><meta charset="utf-8"><title>element</title>
<script type="module" src="../api/qplay-element.js"></script>
<qplay-playground dataset="moons" style="width: 800px; height: 500px"></qplay-playground>`;
function route(urlPath) {
  if (urlPath === '/test/api.html') return API_PAGE;
  if (urlPath === '/test/element.html') return ELEMENT_PAGE;
  return null;
}
// A host that has only the default build: the same site, linked file by file, without the -threads files.
const withoutThreads = fs.mkdtempSync(path.join(os.tmpdir(), 'qplay-without-threads-'));
for (const folder of ['app', 'api']) {
  fs.mkdirSync(path.join(withoutThreads, folder));
  for (const name of fs.readdirSync(path.join(webDir, folder))) {
    if (!name.includes('-threads.')) {
      fs.symlinkSync(path.resolve(webDir, folder, name), path.join(withoutThreads, folder, name));
    }
  }
}
const isolated = await serveStatic(webDir, {isolated: true, route});
const plain = await serveStatic(webDir, {route});
const broken = await serveStatic(withoutThreads, {isolated: true, route});

const browser = await playwright.chromium.launch({
  executablePath: CHROMIUM,
  headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--enable-unsafe-swiftshader', '--disable-quic', '--no-first-run',
         '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});

async function openPage(url) {
  const page = await browser.newPage({viewport: {width: 1000, height: 640}});
  const errors = [];
  page.on('console', (message) => {
    if (message.type() === 'error' && !/favicon/.test(message.text() + (message.location().url || ''))) {
      errors.push(message.text());
    }
  });
  page.on('pageerror', (error) => errors.push(`uncaught: ${error.message}`));
  await page.goto(url);
  return {page, errors};
}

async function apiResult(server) {
  const {page, errors} = await openPage(`${server.origin}/test/api.html`);
  await page.waitForFunction(() => window.result, null, {timeout: TIMEOUT});
  const result = await page.evaluate(() => window.result);
  await page.close();
  return {...result, errors};
}

// The app (index.html, or the element's iframe): the build it loaded and what its lab runs on, once the
// first view has trained itself.
async function appState(frame) {
  await frame.waitForFunction(() => window.Module?.calledRun && Module._qplay_app_frames_drawn() > 2, null,
                              {timeout: TIMEOUT});
  await frame.waitForFunction(() => !Module._qplay_app_training(), null, {timeout: TIMEOUT});
  return frame.evaluate(() => {
    const metrics = JSON.parse(Module.UTF8ToString(Module._qplay_app_metrics()));
    return {isolated: self.crossOriginIsolated, build: Module.qplayBuild.name, kernels: metrics.kernels,
            accuracy: metrics.runs[0].float.accuracy};
  });
}

try {
  // ---- The JavaScript module ----------------------------------------------------------------------
  const threaded = await apiResult(isolated);
  check(!threaded.error, `api, isolated: trained (${threaded.error || 'no error'})`);
  check(threaded.isolated === true && threaded.build?.name === 'threads' && threaded.build.threads >= 2,
        `api, isolated: the threaded build, ${threaded.build?.threads} threads`);
  check(threaded.kernels?.name === 'simd128' && threaded.kernels.threads === threaded.build?.threads,
        `api, isolated: kernels ${JSON.stringify(threaded.kernels)}`);
  check(threaded.errors.length === 0, `api, isolated: no console errors (${threaded.errors.join(' | ')})`);
  const single = await apiResult(plain);
  check(single.isolated === false && single.build?.name === 'simd' && single.kernels?.threads === 1,
        `api, not isolated: the SIMD build on 1 thread (${JSON.stringify(single.build)})`);
  check(single.accuracy?.every((a) => a > 0.5), `api: test accuracy ${single.accuracy} (chance 0.5)`);
  check(threaded.digests?.length === 2 && threaded.digests.join() === single.digests?.join(),
        'api: the threaded build trains to the SIMD build\'s weights, bit for bit');
  const fallback = await apiResult(broken);
  check(fallback.build?.name === 'simd' && fallback.digests?.join() === single.digests?.join(),
        `api, isolated, host without the threaded build: falls back to SIMD (${JSON.stringify(fallback.build)})`);

  // ---- The app and the element --------------------------------------------------------------------
  for (const [server, name, build, minThreads] of [[isolated, 'isolated', 'threads', 2], [plain, 'not isolated', 'simd', 1],
                                                   [broken, 'host without the threaded build', 'simd', 1]]) {
    const {page, errors} = await openPage(`${server.origin}/app/index.html`);
    const app = await appState(page.mainFrame());
    check(app.build === build && app.kernels.name === 'simd128' && app.kernels.threads >= minThreads &&
              (build === 'simd') === (app.kernels.threads === 1),
          `app, ${name}: ${app.build} build, kernels ${JSON.stringify(app.kernels)}`);
    check(app.accuracy > 0.6, `app, ${name}: the first view trained (${app.accuracy?.toFixed(3)})`);
    if (server !== broken) check(errors.length === 0, `app, ${name}: no console errors (${errors.join(' | ')})`);
    await page.close();
  }
  const {page, errors} = await openPage(`${isolated.origin}/test/element.html`);
  await page.waitForFunction(() => document.querySelector('qplay-playground').ready, null, {timeout: TIMEOUT});
  const frame = page.frames().find((f) => f.url().includes('/app/index.html'));
  const inElement = await appState(frame);
  check(inElement.isolated === true && inElement.build === 'threads' && inElement.kernels.threads >= 2,
        `element, isolated page: its app runs the threaded build (${JSON.stringify(inElement.kernels)})`);
  check(errors.length === 0, `element: no console errors (${errors.join(' | ')})`);
} catch (error) {
  check(false, `unexpected error: ${error.stack || error}`);
} finally {
  await browser.close();
  await Promise.all([isolated.close(), plain.close(), broken.close()]);
  fs.rmSync(withoutThreads, {recursive: true, force: true});
}

console.log(failures.length ? `build choice: ${failures.length} check(s) failed` : 'build choice: all checks passed');
process.exit(failures.length ? 1 : 0);
