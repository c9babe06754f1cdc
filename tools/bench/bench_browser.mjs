// The browser side of the benchmark: what a person waits for in the playground on a machine without
// GPU acceleration (Debian's chromium, headless, software WebGL through SwiftShader; like a school
// laptop), against the same lab trained by the headless module under node in the same run.
//   - opening comparison trained: from the first frame drawn to every run of the first view trained
//     (the same default lab as createLab() trains under node: the reference, and the ratio to it)
//   - slider move to a new number: from pressing a bits slider at a new position to the first frame
//     drawn with every run's number at that setting (weight bits: points of the curve, evaluated
//     already; activation bits: a new setting, its first read-out)
//   - frames per second while training and while idle
//
//   node tools/bench/bench_browser.mjs [build/wasm/web] [--width=1280 --height=800 --scale=1] [--runs=3]
//
// Prints one table (median of --runs page loads) and exits 0; 2 for bad arguments, 1 when the build or
// chromium is missing.
import fs from 'node:fs';
import path from 'node:path';
import {fileURLToPath, pathToFileURL} from 'node:url';

import {serveStatic} from '../web/static_server.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const options = {width: 1280, height: 800, scale: 1, runs: 3};
let webDir = path.join(here, '../../build/wasm/web');
for (const arg of process.argv.slice(2)) {
  const match = /^--(width|height|scale|runs)=(\d+(?:\.\d+)?)$/.exec(arg);
  if (match) options[match[1]] = Number(match[2]);
  else if (!arg.startsWith('--')) webDir = arg;
  else {
    console.error(`bench_browser: unknown flag '${arg}' (allowed: --width --height --scale --runs)`);
    process.exit(2);
  }
}
const CHROMIUM = process.env.QPLAY_CHROMIUM || '/usr/bin/chromium';
for (const file of [CHROMIUM, path.join(webDir, 'app/qplay-app.wasm'), path.join(webDir, 'api/qplay.js')]) {
  if (!fs.existsSync(file)) {
    console.error(`bench_browser: ${file} is missing (tools/setup.sh, then cmake --preset wasm && cmake --build --preset wasm)`);
    process.exit(1);
  }
}
const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

// ---- The reference: the default lab under node, trained by the headless module ---------------------
const {createLab} = await import(pathToFileURL(path.join(webDir, 'api/qplay.js')).href);
const nodeTimes = [];
for (let i = 0; i < options.runs; ++i) {
  const lab = await createLab();
  const start = performance.now();
  await lab.train();
  nodeTimes.push(performance.now() - start);
  lab.dispose();
}

// ---- The playground in chromium ----------------------------------------------------------------------
const playwright = await import('playwright-core');
const server = await serveStatic(webDir);
const browser = await playwright.chromium.launch({
  executablePath: CHROMIUM, headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--enable-unsafe-swiftshader', '--no-first-run',
         '--disable-background-networking', '--disable-component-update'],
});
const trainTimes = [], sliderTimes = [], activationTimes = [], trainingFps = [], idleFps = [];
try {
  for (let i = 0; i < options.runs; ++i) {
    const page = await browser.newPage({viewport: {width: options.width, height: options.height},
                                        deviceScaleFactor: options.scale});
    await page.goto(`${server.origin}/app/index.html`);
    await page.waitForFunction(() => window.Module?.calledRun && Module._qplay_app_frames_drawn() > 0, null, {timeout: 120000});
    const timing = await page.evaluate(async () => {
      const start = performance.now(), frames0 = Module._qplay_app_frames_drawn();
      while (Module._qplay_app_training()) await new Promise((resolve) => setTimeout(resolve, 5));
      const trained = performance.now() - start;
      return {trained, fps: (Module._qplay_app_frames_drawn() - frames0) / (trained / 1000)};
    });
    trainTimes.push(timing.trained);
    trainingFps.push(timing.fps);
    idleFps.push(await page.evaluate(async () => {
      const frames0 = Module._qplay_app_frames_drawn();
      await new Promise((resolve) => setTimeout(resolve, 2000));
      return (Module._qplay_app_frames_drawn() - frames0) / 2;
    }));
    // The sliders' positions 0..7 read 2..8 bits and float. Weight bit-widths are points of the accuracy
    // curve, evaluated already; activation bit-widths are new settings, a first read-out in the frame.
    const rectOf = (name) => page.evaluate((name) => {
      const pointer = Module.ccall('qplay_app_control_rect', 'number', ['string'], [name]);
      const [x, y, width, height] = Module.HEAPF32.subarray(pointer >> 2, (pointer >> 2) + 4);
      const box = Module.canvas.getBoundingClientRect();
      return {x: box.left + x, y: box.top + y, width, height};
    }, name);
    for (const [key, position, bits] of [['weight_bits', 0, 2], ['weight_bits', 4, 6], ['activation_bits', 3, 5],
                                         ['activation_bits', 0, 2]]) {
      const slider = await rectOf(key);
      const x = slider.x + slider.width * (position + 0.5) / 8, y = slider.y + slider.height / 2;
      await page.mouse.move(x, y);
      await page.waitForTimeout(300);
      // From the press (as the page saw it) to the first frame drawn after it with every run's number
      // at the new setting (within a frame: the check runs once per animation frame).
      await page.evaluate(() => {
        window.qplayPress = null;
        Module.canvas.addEventListener('mousedown', (event) => {
          window.qplayPress = {at: event.timeStamp, frame: Module._qplay_app_frames_drawn()};
        }, {once: true, capture: true});
      });
      const waited = page.evaluate(([key, bits]) => new Promise((resolve) => {
        const poll = () => {
          const press = window.qplayPress;
          if (press && Module._qplay_app_frames_drawn() > press.frame) {
            const metrics = JSON.parse(Module.UTF8ToString(Module._qplay_app_metrics()));
            if (metrics[key] === bits && metrics.runs.every((run) => run.current.samples > 0))
              return resolve(performance.now() - press.at);
          }
          requestAnimationFrame(poll);
        };
        poll();
      }), [key, bits]);
      await page.mouse.down();
      await page.mouse.up();
      (key === 'weight_bits' ? sliderTimes : activationTimes).push(await waited);
    }
    await page.close();
  }
} finally {
  await browser.close();
  await server.close();
}

const row = (name, value, unit, note = '') => console.log(`${name.padEnd(46)} ${value.padStart(9)} ${unit.padEnd(8)} ${note}`);
console.log(`browser playground: chromium headless, software WebGL (SwiftShader), ${options.width}x${options.height} ` +
            `at devicePixelRatio ${options.scale}; median of ${options.runs} page loads`);
const trained = median(trainTimes), reference = median(nodeTimes);
row('opening comparison trained, browser', trained.toFixed(0), 'ms', `(${trainTimes.map((t) => t.toFixed(0)).join(', ')})`);
row('same lab under node (qplay.js train())', reference.toFixed(0), 'ms', `(${nodeTimes.map((t) => t.toFixed(0)).join(', ')})`);
row('ratio browser / node', (trained / reference).toFixed(2), 'x', 'goal <= 3x');
row('weight slider move to the new numbers', median(sliderTimes).toFixed(0), 'ms',
    `goal < 100 ms (${sliderTimes.map((t) => t.toFixed(0)).join(', ')})`);
row('activation slider move to first read-outs', median(activationTimes).toFixed(0), 'ms',
    `goal < 100 ms (${activationTimes.map((t) => t.toFixed(0)).join(', ')})`);
row('frames per second while training', median(trainingFps).toFixed(1), 'fps');
row('frames per second idle', median(idleFps).toFixed(1), 'fps');
