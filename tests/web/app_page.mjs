// The browser app (web/app) opened in a chromium page, with the test hooks web/app/main.cpp exports
// (Module._qplay_app_*) wrapped as a person-level API for the browser tests: where a control is, how
// many frames were drawn, the numbers on screen, a tap or click on a named control.
//
//   const app = await openApp(browser, `${origin}/app/index.html`, {width: 390, height: 844, mobile: true});
//   await app.tap('menu');
//   (await app.metrics()).runs[0].current.accuracy
//
// Console errors and uncaught exceptions are collected in app.errors.

export async function openApp(browser, url, {width = 1000, height = 640, scale = 2, mobile = false, hash = ''} = {}) {
  const page = await browser.newPage({viewport: {width, height}, deviceScaleFactor: scale, hasTouch: true,
                                      isMobile: mobile});
  const errors = [];
  page.on('console', (message) => {
    const where = message.location().url || '';
    if (message.type() === 'error' && !where.includes('favicon') && !message.text().includes('favicon')) {
      errors.push(message.text());
    }
  });
  page.on('pageerror', (error) => errors.push(`uncaught: ${error.message}`));
  await page.goto(hash ? `${url}#${hash}` : url);
  await page.waitForFunction(() => window.Module?.calledRun && Module._qplay_app_frames_drawn() > 2, null,
                             {timeout: 60000});

  const app = {
    page,
    errors,
    frames: () => page.evaluate(() => Module._qplay_app_frames_drawn()),
    accuracy: () => page.evaluate(() => Module._qplay_app_current_accuracy()),
    training: () => page.evaluate(() => Module._qplay_app_training() === 1),
    metrics: () => page.evaluate(() => JSON.parse(Module.UTF8ToString(Module._qplay_app_metrics()) || 'null')),
    // A named control's rectangle in CSS pixels of the page, or null if it was not drawn last frame.
    rect: (name) => page.evaluate((name) => {
      const pointer = Module.ccall('qplay_app_control_rect', 'number', ['string'], [name]);
      if (!pointer) return null;
      const [x, y, width, height] = Module.HEAPF32.subarray(pointer >> 2, (pointer >> 2) + 4);
      const canvas = Module.canvas.getBoundingClientRect();  // the hook is canvas-relative
      return {x: canvas.left + x, y: canvas.top + y, width, height};
    }, name),
    // A named control's rectangle once it is drawn, waiting up to `frames` frames (a tap's effect shows
    // a frame or two later, more on a slow machine); null if it was not drawn in that time.
    async control(name, frames = 30) {
      for (let waited = 0; ; ++waited) {
        const box = await app.rect(name);
        if (box || waited === frames) return box;
        await app.waitFrames(1);
      }
    },
    // Waits until the app has drawn `count` more frames (ImGui sees input once per frame).
    async waitFrames(count) {
      const target = (await app.frames()) + count;
      await page.waitForFunction((target) => Module._qplay_app_frames_drawn() >= target, target,
                                 {timeout: 20000, polling: 'raf'});
    },
    // A finger (mobile) or the mouse on the centre of a named control; false if it is not drawn.
    async tap(name) {
      const box = await app.control(name);
      if (!box) return false;
      const x = box.x + box.width / 2, y = box.y + box.height / 2;
      if (mobile) {
        await page.touchscreen.tap(x, y);
      } else {
        await page.mouse.move(x, y);
        await app.waitFrames(1);
        await page.mouse.down();
        await app.waitFrames(1);
        await page.mouse.up();
      }
      await app.waitFrames(2);
      return true;
    },
    async until(condition, argument, timeout = 60000) {
      try {
        await page.waitForFunction(condition, argument, {timeout});
        return true;
      } catch {
        return false;
      }
    },
  };
  return app;
}

// Whether two rectangles {x, y, width, height} share any area.
export function overlap(a, b) {
  return a.x < b.x + b.width && b.x < a.x + a.width && a.y < b.y + b.height && b.y < a.y + a.height;
}
