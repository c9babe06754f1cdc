// Browser test of the web app (web/app): serves the built app, opens it in Debian's chromium through
// playwright-core (headless, WebGL 2 on SwiftShader) and uses it like a person would: waits until it
// draws, drags the weight-bits slider with the mouse and with a finger, and checks what changed. Run by
// ctest in the wasm build; by hand:
//
//   node tests/web/playground_test.mjs build/wasm/web/app [screenshot.png]
//
// It reads the app through the test hooks web/app/main.cpp exports (Module._qplay_app_*). The page
// runs at devicePixelRatio 2, so the CSS-pixel/device-pixel glue is exercised too. Exit code 0 when
// every check passes, 1 otherwise (each failure is printed).
import fs from 'node:fs';
import path from 'node:path';

import {serveStatic} from '../../tools/web/static_server.mjs';
import {openApp, overlap} from './app_page.mjs';

const CHROMIUM = process.env.QPLAY_CHROMIUM || '/usr/bin/chromium';
const VIEWPORT = {width: 1000, height: 640};  // CSS pixels
const DEVICE_PIXEL_RATIO = 2;

const [appDir, screenshotPath] = process.argv.slice(2);
if (!appDir) {
  console.error('usage: node playground_test.mjs <build>/web/app [screenshot.png]');
  process.exit(2);
}

let playwright;
try {
  playwright = await import('playwright-core');
} catch (error) {
  console.error(`web: playwright-core is not installed (${error.message}); run tools/setup.sh (npm ci)`);
  process.exit(1);
}
for (const file of [CHROMIUM, path.join(appDir, 'index.html'), path.join(appDir, 'qplay-app.wasm')]) {
  if (!fs.existsSync(file)) {
    console.error(`web: ${file} is missing (run tools/setup.sh, and build qplay-app)`);
    process.exit(1);
  }
}

// ---- The app directory, served as a web host would (gzip) --------------------------------------------
const server = await serveStatic(appDir);
const url = `${server.origin}/index.html`;

// ---- Checks ------------------------------------------------------------------------------------------
const failures = [];
function check(condition, message) {
  console.log(`${condition ? 'ok  ' : 'FAIL'} ${message}`);
  if (!condition) failures.push(message);
}

// A promise's value, or null if it rejects (a wait that timed out).
async function tryWait(promise) {
  try {
    return await promise;
  } catch {
    return null;
  }
}

const browser = await playwright.chromium.launch({
  executablePath: CHROMIUM,
  headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--enable-unsafe-swiftshader', '--disable-quic', '--no-first-run',
         '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
try {
  const started = Date.now();
  const main = await openApp(browser, url, {width: VIEWPORT.width, height: VIEWPORT.height, scale: DEVICE_PIXEL_RATIO});
  const {page, frames, accuracy, waitFrames} = main;
  const consoleErrors = main.errors;
  check(await page.title() === 'QPlay — quantization playground', 'page title');
  // Progress shows while the first view trains: a page drawing in software spaces its frames out so
  // training keeps the main thread, but at 2 a second or more (they stopped while a slow first frame set
  // the spacing).
  await page.waitForFunction(() => window.Module?.calledRun && Module._qplay_app_frames_drawn() > 0, null,
                             {timeout: 60000});
  const firstView = await page.evaluate(async () => {
    const start = performance.now(), frames0 = Module._qplay_app_frames_drawn();
    while (Module._qplay_app_training()) await new Promise((resolve) => setTimeout(resolve, 5));
    return {ms: performance.now() - start, frames: Module._qplay_app_frames_drawn() - frames0};
  });
  console.log(`     first view trained ${firstView.ms.toFixed(0)} ms after the first frame, ${firstView.frames} frames meanwhile`);
  check(firstView.frames >= Math.floor(firstView.ms / 500), 'frames keep coming while the first view trains');
  await page.waitForFunction(
      () => window.Module?.calledRun && Module._qplay_app_frames_drawn() > 10,
      null, {timeout: 60000});
  console.log(`     first 10 frames after ${Date.now() - started} ms`);
  check(await page.evaluate(() => document.body.classList.contains('ready')), 'loading screen gone');
  check(await page.evaluate(() => {
    const canvas = Module.canvas, box = canvas.getBoundingClientRect(), ratio = window.devicePixelRatio;
    return canvas.width === Math.round(box.width * ratio) && canvas.height === Math.round(box.height * ratio);
  }), `canvas backing store is its CSS box x devicePixelRatio ${DEVICE_PIXEL_RATIO}`);

  // The first view trains itself; the slider is tested on the trained runs, so that only the slider
  // can change the accuracy read-out.
  await waitFrames(5);
  const accuracyBefore = await accuracy();
  const hashBefore = await page.evaluate(() => location.hash);
  console.log(`     accuracy ${accuracyBefore}, hash '${hashBefore}'`);

  // Drag the slider: press on it, then move slowly to a new place and let go. The slider's value is
  // unknown here, so it goes to the low end and, should that be where it was, to the high end.
  const slider = await main.control('weight_bits');
  check(slider !== null && slider.width > 0 && slider.height > 0, 'weight_bits slider was drawn');
  let accuracyAfter = accuracyBefore;
  if (slider) {
    const y = slider.y + slider.height / 2;
    for (const [from, to] of [[0.5, 0.05], [0.5, 0.95]]) {
      await page.mouse.move(slider.x + slider.width * from, y);
      await waitFrames(2);
      await page.mouse.down();
      await waitFrames(2);
      for (let step = 1; step <= 10; ++step) {
        await page.mouse.move(slider.x + slider.width * (from + (to - from) * step / 10), y);
        await waitFrames(1);
      }
      await page.mouse.up();
      await waitFrames(2);
      try {  // the real playground re-evaluates in time slices: give it a moment
        await page.waitForFunction((before) => Module._qplay_app_current_accuracy() !== before,
                                   accuracyBefore, {timeout: 20000});
      } catch {}
      accuracyAfter = await accuracy();
      if (accuracyAfter !== accuracyBefore) break;
    }
  }
  check(accuracyAfter !== accuracyBefore,
        `dragging the slider changed the accuracy (${accuracyBefore} -> ${accuracyAfter})`);
  const hashAfter = await page.evaluate(() => location.hash);
  check(/weight_bits=/.test(hashAfter), `URL hash has the new state ('${hashAfter}')`);

  // The same slider with a finger: a touch drag to the other end moves it (a tablet in a classroom).
  if (slider) {
    // The app's own numbers (a hash leaves out default values such as 2 bits).
    const weightBits = () => page.evaluate(() => JSON.parse(Module.UTF8ToString(Module._qplay_app_metrics())).weight_bits);
    const bitsBefore = await weightBits();
    const touch = await page.context().newCDPSession(page);
    const y = slider.y + slider.height / 2;
    const [from, to] = bitsBefore === 2 ? [0.5, 0.85] : [0.5, 0.05];
    const at = (f) => [{x: slider.x + slider.width * f, y}];
    await touch.send('Input.dispatchTouchEvent', {type: 'touchStart', touchPoints: at(from)});
    await waitFrames(2);
    for (let step = 1; step <= 10; ++step) {
      await touch.send('Input.dispatchTouchEvent', {type: 'touchMove', touchPoints: at(from + (to - from) * step / 10)});
      await waitFrames(1);
    }
    await touch.send('Input.dispatchTouchEvent', {type: 'touchEnd', touchPoints: []});
    await waitFrames(3);
    const bitsAfter = await weightBits();
    check(bitsAfter !== bitsBefore,
          `a touch drag moves the slider too (weight bits ${bitsBefore} -> ${bitsAfter})`);
  }

  // What the canvas shows, read inside a frame (the WebGL drawing buffer is not preserved).
  await page.evaluate(() => Module._qplay_app_request_readback());
  await page.waitForFunction(() => Module._qplay_app_readback_pixels() !== 0, null, {timeout: 10000});
  const pixels = await page.evaluate(() => {
    const width = Module._qplay_app_readback_width(), height = Module._qplay_app_readback_height();
    const start = Module._qplay_app_readback_pixels();
    const rgba = Module.HEAPU8.subarray(start, start + width * height * 4);
    const counts = new Map();
    for (let i = 0; i < rgba.length; i += 4) {
      const key = (rgba[i] << 16) | (rgba[i + 1] << 8) | rgba[i + 2];
      counts.set(key, (counts.get(key) || 0) + 1);
    }
    const background = Math.max(...counts.values());
    return {width, height, colors: counts.size, drawn: (width * height - background) / (width * height)};
  });
  console.log(`     readback ${pixels.width}x${pixels.height}: ${pixels.colors} colours, ` +
              `${(100 * pixels.drawn).toFixed(1)}% not background`);
  check(pixels.width === VIEWPORT.width * DEVICE_PIXEL_RATIO &&
            pixels.height === VIEWPORT.height * DEVICE_PIXEL_RATIO,
        'readback has the canvas size in device pixels');
  check(pixels.drawn > 0.01 && pixels.colors > 20, 'the canvas shows the playground (>1% drawn, >20 colours)');

  if (screenshotPath) await page.screenshot({path: screenshotPath});

  // A link to Fashion-MNIST: the page fetches the data pack (only now), the lab rebuilds and trains.
  await page.evaluate(() => {
    location.hash = 'dataset=fashion-mnist&architecture=mlp:16&epochs=1&train_limit=3000&test_limit=500' +
                    '&methods=baseline&batch_size=64&weight_bits=8';
  });
  // The app publishes its own hash (with the seed) once the Fashion-MNIST lab is built.
  try {
    await page.waitForFunction(
        () => /dataset=fashion-mnist/.test(location.hash) && /seed=/.test(location.hash) &&
            Module._qplay_app_training() === 0 && Module._qplay_app_current_accuracy() > 0.5,
        null, {timeout: 120000});
  } catch {}
  const fashionAccuracy = await accuracy();
  const fashionHash = await page.evaluate(() => location.hash);
  check(/dataset=fashion-mnist/.test(fashionHash) && /seed=/.test(fashionHash) && fashionAccuracy > 0.5,
        `Fashion-MNIST from its data pack trains to > 50% (${fashionAccuracy}, ${fashionHash})`);
  if (screenshotPath) await page.screenshot({path: screenshotPath.replace(/\.png$/, '-fashion-mnist.png')});

  check(consoleErrors.length === 0,
        `no console errors${consoleErrors.length ? ': ' + consoleErrors.join(' | ') : ''}`);

  // ---- What a person sees on the first view: numbers of the final weights, and chips that can be clicked
  {
    const app = await openApp(browser, url, {width: 1280, height: 800, scale: 1});
    await app.until(() => Module._qplay_app_training() === 0, null, 120000);
    const fresh = await app.until(() => {
      const metrics = JSON.parse(Module.UTF8ToString(Module._qplay_app_metrics()));
      return metrics.runs.every((run) => run.current.current && run.float.current && run.curve.every((p) => p.current));
    }, null, 30000);
    check(fresh, 'after training every chip, curve point and float number is of the final weights');
    let clicked = 0;
    for (const chip of ['chip1', 'chip2', 'chip0', 'chip2']) clicked += await app.tap(chip) ? 1 : 0;
    const framesAfter = await app.frames();
    await app.waitFrames(3);
    const running = await app.page.evaluate(() => !document.body.classList.contains('failed'));
    check(clicked === 4 && running && (await app.frames()) > framesAfter && app.errors.length === 0,
          `clicking the runs' chips keeps the app running (${clicked} clicks${app.errors.length ? ': ' + app.errors.join(' | ') : ''})`);
    const warnings = [];
    app.page.on('console', (message) => { if (message.type() === 'warning') warnings.push(message.text()); });
    await app.page.evaluate(() => { location.hash = 'dataset=moons&weight_bits=99'; });
    await app.until(() => /dataset=moons/.test(location.hash) && !/weight_bits=99/.test(location.hash), null, 20000);
    await app.waitFrames(2);
    check(warnings.some((warning) => /weight_bits/.test(warning)),
          `a bad link on a running page logs a console warning (${warnings.join(' | ') || 'none'})`);
    await app.page.close();
  }

  // ---- A phone: the top bar does not overlap, the setup opens as a drawer and a field takes typing
  {
    const app = await openApp(browser, url, {width: 390, height: 844, scale: 3, mobile: true});
    await app.waitFrames(3);
    const bar = {};
    for (const name of ['menu', 'play', 'step', 'reset']) bar[name] = await app.rect(name);
    const drawn = Object.values(bar).every((box) => box !== null);
    const names = Object.keys(bar);
    const overlapping = drawn ? names.flatMap((a, i) => names.slice(i + 1).filter((b) => overlap(bar[a], bar[b])).map((b) => `${a}/${b}`)) : [];
    const inside = drawn && Object.values(bar).every((box) => box.x >= 0 && box.x + box.width <= 390);
    check(drawn && overlapping.length === 0 && inside,
          `phone: top-bar buttons drawn, inside the screen and apart (${JSON.stringify(bar)}; overlapping: ${overlapping.join(' ') || 'none'})`);
    const tapped = [await app.tap('menu'), await app.tap('menu_setup')];
    const field = await app.control('learning_rate');
    const closeButton = await app.rect('close_setup');
    check(closeButton !== null && field !== null && field.width > 120,
          `phone: the setup opens as a drawer with wide fields (menu, setup tapped: ${tapped}; close button ` +
          `${closeButton ? 'drawn' : 'missing'}; learning rate field ${field ? field.width.toFixed(0) + ' px' : 'missing'})`);
    if (screenshotPath) await app.page.screenshot({path: screenshotPath.replace(/\.png$/, '-phone-setup.png')});
    await app.tap('learning_rate');
    const focused = await app.until(() => document.activeElement?.id === 'qplay-text-field', null, 10000);
    await app.page.keyboard.insertText('0.2');  // what a touch keyboard sends: input events, no keypress
    await app.page.keyboard.press('Enter');
    const typed = await app.until(() => /(^#?|&)learning_rate=0.2(&|$)/.test(location.hash), null, 10000);
    check(focused && typed, `phone: a field takes a touch keyboard's text (focused ${focused}, hash ${await app.page.evaluate(() => location.hash)})`);
    const sliderUnderDrawer = await app.rect('weight_bits');
    await app.tap('close_setup');
    check(sliderUnderDrawer === null && (await app.control('weight_bits')) !== null,
          'phone: closing the drawer shows the slider again');
    if (screenshotPath) await app.page.screenshot({path: screenshotPath.replace(/\.png$/, '-phone.png')});
    check(app.errors.length === 0, `phone: no console errors${app.errors.length ? ': ' + app.errors.join(' | ') : ''}`);
    await app.page.close();
  }

  // ---- A plot's right-click menu, "Save plot as PNG": the browser downloads the plot's pixels as a PNG
  {
    // Without the Weights tab the Layer sensitivity tab is the first, and without the setup and the
    // training curves a laptop's screen has room for all panels at once, so its bars are drawn.
    const app = await openApp(browser, url, {width: 1280, height: 800, scale: DEVICE_PIXEL_RATIO,
                                             hash: 'methods=baseline&epochs=3&setup_hide=1&training_hide=1&weights_hide=1'});
    await app.until(() => Module._qplay_app_training() === 0, null, 120000);
    const plot = await app.control('sensitivity_weights');
    check(plot !== null, `PNG: the weight sensitivity plot is drawn (${JSON.stringify(plot)})`);
    let png = null, name = '';
    if (plot) {
      // Right-click near the plot's top left, so the menu opens below and right of the pointer.
      const x = plot.x + 0.2 * plot.width, y = plot.y + 0.2 * plot.height;
      await app.page.mouse.move(x, y);
      await app.waitFrames(1);
      await app.page.mouse.down({button: 'right'});
      await app.waitFrames(1);
      await app.page.mouse.up({button: 'right'});
      await app.waitFrames(3);  // ImGui sizes a new popup on its first frame and shows it on the next
      // The menu's top left is 1 px below the pointer; "Save plot as SVG" is its first line and "Save plot
      // as PNG" its second: ImGui's default window padding (8 px) and item spacing (4 px) and the app's
      // 15 px font, all in CSS pixels at any devicePixelRatio.
      const download = app.page.waitForEvent('download', {timeout: 20000});
      await app.page.mouse.click(x + 40, y + 1 + 8 + 15 + 4 + 7.5);
      const saved = await tryWait(download);
      if (saved) {
        name = saved.suggestedFilename();
        png = fs.readFileSync(await saved.path());
      }
      await app.page.mouse.move(0, 0);  // no hover on the plot in the frame read back below
    }
    check(png !== null && name === 'qplay-sensitivity_weights.png', `PNG: the menu's "Save plot as PNG" downloads '${name}'`);
    const signature = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
    const isPng = png !== null && png.length > 33 && signature.every((byte, i) => png[i] === byte) &&
                  png.toString('latin1', 12, 16) === 'IHDR';
    const size = isPng ? {width: png.readUInt32BE(16), height: png.readUInt32BE(20)} : null;
    const expected = plot ? {width: Math.round(plot.width * DEVICE_PIXEL_RATIO), height: Math.round(plot.height * DEVICE_PIXEL_RATIO)} : null;
    check(isPng && Math.abs(size.width - expected.width) <= 1 && Math.abs(size.height - expected.height) <= 1,
          `PNG: a PNG of the plot's size in device pixels (${png ? png.length : 0} bytes, ${JSON.stringify(size)}, ` +
          `plot ${JSON.stringify(expected)})`);
    if (isPng && plot) {
      // Decoded by the browser and set beside the same region of the canvas, read back after the menu closed.
      await app.waitFrames(3);
      await app.page.evaluate(() => Module._qplay_app_request_readback());
      await app.until(() => Module._qplay_app_readback_pixels() !== 0, null, 10000);
      const compared = await app.page.evaluate(async ({base64, x, y, ratio}) => {
        const box = Module.canvas.getBoundingClientRect();  // the readback is canvas-relative
        const left = Math.round((x - box.left) * ratio), top = Math.round((y - box.top) * ratio);
        const bytes = Uint8Array.from(atob(base64), (c) => c.charCodeAt(0));
        const bitmap = await createImageBitmap(new Blob([bytes], {type: 'image/png'}));
        const canvas = new OffscreenCanvas(bitmap.width, bitmap.height);
        const context = canvas.getContext('2d');
        context.drawImage(bitmap, 0, 0);
        const saved = context.getImageData(0, 0, bitmap.width, bitmap.height).data;
        const width = Module._qplay_app_readback_width(), height = Module._qplay_app_readback_height();
        const start = Module._qplay_app_readback_pixels();
        const frame = Module.HEAPU8.subarray(start, start + width * height * 4);  // bottom row first
        const colors = new Set();
        let same = 0;
        for (let y = 0; y < bitmap.height; ++y) {
          for (let x = 0; x < bitmap.width; ++x) {
            const i = 4 * (y * bitmap.width + x), j = 4 * ((height - 1 - (top + y)) * width + left + x);
            colors.add((saved[i] << 16) | (saved[i + 1] << 8) | saved[i + 2]);
            same += Math.abs(saved[i] - frame[j]) + Math.abs(saved[i + 1] - frame[j + 1]) + Math.abs(saved[i + 2] - frame[j + 2]) <= 6;
          }
        }
        return {colors: colors.size, same: same / (bitmap.width * bitmap.height)};
      }, {base64: png.toString('base64'), x: plot.x, y: plot.y, ratio: DEVICE_PIXEL_RATIO});
      check(compared.colors > 1 && compared.same > 0.95,
            `PNG: not blank, and the plot as the canvas shows it (${compared.colors} colours, ` +
            `${(100 * compared.same).toFixed(1)}% of pixels as on the canvas)`);
    }
    check(app.errors.length === 0, `PNG: no console errors${app.errors.length ? ': ' + app.errors.join(' | ') : ''}`);
    await app.page.close();
  }

  // ---- A link straight to Fashion-MNIST starts training once the data pack is here, like the default view
  {
    const app = await openApp(browser, url, {hash: 'dataset=fashion-mnist&architecture=mlp:16&epochs=1&train_limit=3000' +
                                                   '&test_limit=500&methods=baseline'});
    const started = await app.until(() => {
      const metrics = JSON.parse(Module.UTF8ToString(Module._qplay_app_metrics()) || 'null');
      return metrics && metrics.dataset === 'fashion-mnist' && metrics.runs[0].steps > 0;
    }, null, 120000);
    check(started, 'a link to Fashion-MNIST trains without pressing Play');

    // Should the engine stop after it started, the page says so and reloads into the same experiment.
    await app.page.evaluate(() => window.dispatchEvent(new ErrorEvent('error', {message: 'a simulated trap'})));
    const screen = await app.page.evaluate(() => ({status: document.getElementById('status').textContent,
                                                   reload: !document.getElementById('reload').hidden,
                                                   hash: location.hash}));
    check(screen.status === 'QPlay stopped.' && screen.reload && /dataset=fashion-mnist/.test(screen.hash),
          `the crash screen says the app stopped and offers a reload (${JSON.stringify(screen)})`);
    await Promise.all([app.page.waitForNavigation(), app.page.click('#reload')]);
    const reloaded = await app.until(() => window.Module?.calledRun && Module._qplay_app_frames_drawn() > 0 &&
                                         /dataset=fashion-mnist/.test(location.hash), null, 60000);
    check(reloaded, 'the reload keeps the experiment in the link');
    await app.page.close();
  }
  console.log(`     ${await frames()} frames in ${Date.now() - started} ms`);
} catch (error) {
  check(false, `test stopped: ${error.stack || error}`);
} finally {
  await browser.close();
  server.close();
}
console.log(failures.length === 0 ? 'web: all checks passed' : `web: ${failures.length} check(s) failed`);
process.exit(failures.length === 0 ? 0 : 1);
