// <qplay-playground>: the whole QPlay playground as one HTML element, for teaching pages.
//
//   <script type="module" src=".../qplay-element.js"></script>
//   <qplay-playground dataset="spiral" methods="baseline,gradl1" bits="4" hide="setup"></qplay-playground>
//
// The element hosts the browser app (web/app/index.html) in an iframe that fills its box; the app sizes
// its canvas to that box times the device pixel ratio. The iframe keeps every playground on a page
// independent (its own WebAssembly memory, its own WebGL context) and removing the element frees all of
// it. Attributes are the app's settings; changing one changes the running playground, removing one
// brings back its default. Calls made before the playground is ready wait for it. The element
// fires DOM events with what the playground reports (docs/embedding.md has the list):
//   qplay-ready, qplay-state {hash}, qplay-metrics {metrics}, qplay-error {message}
// A bad attribute value never breaks the page: the playground keeps its default for it, the element
// prints a console warning and fires qplay-error.

// Attribute -> setting key. Other settings go through the `state` attribute (a URL-hash text) or set().
const ATTRIBUTES = {
  'dataset': 'dataset',
  'methods': 'methods',
  'bits': 'weight_bits',
  'activation-bits': 'activation_bits',
  'granularity': 'granularity',
  'architecture': 'architecture',
  'epochs': 'epochs',
  'learning-rate': 'learning_rate',
  'noise': 'noise',
  'samples': 'samples',
  'seed': 'seed',
};
const DEFAULT_APP = new URL('../app/index.html', import.meta.url);

function hideList(text) {
  return new Set(String(text || '').split(/[\s,]+/).filter(Boolean));
}

export class QPlayPlayground extends HTMLElement {
  static get observedAttributes() {
    return [...Object.keys(ATTRIBUTES), 'hide', 'state', 'src'];
  }

  constructor() {
    super();
    const root = this.attachShadow({mode: 'open'});
    root.innerHTML = `<style>
      :host { display: block; position: relative; width: 100%; height: 32em; min-height: 16em;
              border-radius: 6px; overflow: hidden; background: #1a1c21; }
      :host([hidden]) { display: none; }
      iframe { position: absolute; inset: 0; width: 100%; height: 100%; border: 0; display: block; }
    </style>`;
    this._frame = null;
    this._ready = false;
    this._queue = [];  // messages sent before the app was ready to hear them
    this._metrics = null;
    this._hash = '';
    this._onMessage = (event) => this._receive(event);
  }

  // The playground's numbers as last reported (lab metrics, docs/embedding.md), or null before.
  get metrics() {
    return this._metrics;
  }
  // The playground's state as a URL hash, as last reported.
  get state() {
    return this._hash;
  }
  get ready() {
    return this._ready;
  }

  // One setting by its state-table key; a refused value fires qplay-error and changes nothing.
  set(key, value) {
    this._post({type: 'qplay:set', key, value: String(value)});
  }
  // Each weighted layer's weight bits chosen to fit a budget (bits per weight, or KB) on one run's weights,
  // as lab.allocateBits() does; they arrive as a qplay-state with layer_weight_bits (a bad budget fires
  // qplay-error and changes nothing).
  allocate({budgetBits, budgetKb, method = 'measured', run = 0} = {}) {
    const message = {type: 'qplay:allocate', method: String(method), run};
    if (budgetBits !== undefined) message.budget_bits = Number(budgetBits);
    if (budgetKb !== undefined) message.budget_kb = Number(budgetKb);
    this._post(message);
  }
  play() { this._post({type: 'qplay:play'}); }
  pause() { this._post({type: 'qplay:pause'}); }
  step() { this._post({type: 'qplay:step'}); }
  reset() { this._post({type: 'qplay:reset'}); }

  connectedCallback() {
    if (this._frame) return;
    window.addEventListener('message', this._onMessage);
    this._frame = document.createElement('iframe');
    this._frame.title = this.getAttribute('aria-label') || 'QPlay quantization playground';
    // An app from another origin may be cross-origin isolated too (and so load its threaded build) only
    // if this page lets it; it needs the same headers from its own server.
    this._frame.allow = 'cross-origin-isolated';
    this._frame.src = `${this._appUrl()}#${this._initialHash()}`;
    this.shadowRoot.appendChild(this._frame);
  }

  disconnectedCallback() {
    window.removeEventListener('message', this._onMessage);
    if (this._frame) {
      this._frame.src = 'about:blank';  // ends the app's animation loop and frees its memory at once
      this._frame.remove();
    }
    this._frame = null;
    this._ready = false;
    this._queue = [];
  }

  attributeChangedCallback(name, oldValue, newValue) {
    if (!this._frame || oldValue === newValue) return;  // not connected: the initial hash will have it
    if (!this._ready || name === 'src') {  // still loading: start over from the attributes as they are now
      const queued = this._queue;
      this.disconnectedCallback();
      this.connectedCallback();
      this._queue = queued;
    } else if (name === 'state' || (newValue === null && ATTRIBUTES[name])) {
      // A new state text, or a setting attribute removed (its default comes back): the playground
      // starts over from the attributes as they are now, like a page that loads with them.
      this._post({type: 'qplay:state', hash: this._initialHash()});
    } else if (name === 'hide') {
      const before = hideList(oldValue), after = hideList(newValue);
      for (const item of before) if (!after.has(item)) this.set(`${item}_hide`, 0);
      for (const item of after) if (!before.has(item)) this.set(`${item}_hide`, 1);
    } else if (ATTRIBUTES[name]) {
      this.set(ATTRIBUTES[name], newValue);
    }
  }

  _appUrl() {
    const src = this.getAttribute('src');
    return src ? new URL(src, document.baseURI).href : DEFAULT_APP.href;
  }

  _initialHash() {
    const parts = [];
    const state = this.getAttribute('state');
    if (state) parts.push(state.replace(/^#/, ''));
    for (const [attribute, key] of Object.entries(ATTRIBUTES)) {
      const value = this.getAttribute(attribute);
      if (value !== null) parts.push(`${key}=${encodeURIComponent(value)}`);
    }
    for (const item of hideList(this.getAttribute('hide'))) parts.push(`${encodeURIComponent(item)}_hide=1`);
    return parts.join('&');
  }

  // Until the app says it is ready, messages wait: the iframe may still hold about:blank or a page
  // that has not started listening, and a message posted then would be lost.
  _post(message) {
    if (!this._frame) return;
    if (!this._ready || !this._frame.contentWindow) {
      this._queue.push(message);
      return;
    }
    const origin = new URL(this._appUrl()).origin;
    this._frame.contentWindow.postMessage(message, origin);
  }

  _receive(event) {
    if (!this._frame || event.source !== this._frame.contentWindow) return;
    if (event.origin !== new URL(this._appUrl()).origin) return;
    const message = event.data || {};
    switch (message.type) {
      case 'qplay:ready':
        this._ready = true;
        for (const queued of this._queue.splice(0)) this._post(queued);
        this._fire('qplay-ready', {});
        break;
      case 'qplay:state':
        this._hash = message.hash;
        this._fire('qplay-state', {hash: message.hash});
        break;
      case 'qplay:metrics':
        this._metrics = message.metrics;
        this._fire('qplay-metrics', {metrics: message.metrics});
        break;
      case 'qplay:error':
        console.warn(`<qplay-playground>: ${message.message}`);
        this._fire('qplay-error', {message: message.message});
        break;
    }
  }

  _fire(name, detail) {
    this.dispatchEvent(new CustomEvent(name, {detail, bubbles: true, composed: true}));
  }
}

if (!customElements.get('qplay-playground')) customElements.define('qplay-playground', QPlayPlayground);
