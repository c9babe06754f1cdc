// Types of qplay.js, QPlay's JavaScript API (docs/embedding.md explains every call).

/** The "qplay-integer-model" version 1 document (docs/formats.md). */
export interface IntegerGrid {
  bits: number; signed: boolean; scale: number; zero_point: number; q_min: number; q_max: number;
}
export interface IntegerModel {
  format: 'qplay-integer-model';
  version: 1;
  architecture: string;
  input_shape: [number, number, number];
  classes: number;
  layers: Array<{
    kind: 'dense' | 'conv2d' | 'max_pool' | 'flatten' | 'relu' | 'tanh' | 'softplus';
    input_shape: [number, number, number];
    output_shape: [number, number, number];
    kernel?: number; stride?: number; padding?: number;
    input_activation?: IntegerGrid | null;
    weights?: {shape: [number, number]; bits: number; values?: number[]; signed?: boolean;
               granularity?: 'per-channel' | 'per-tensor'; scales?: number[]; zero_points?: number[]; codes?: number[]};
    bias?: number[];
  }>;
}

/** Thrown for bad settings, bad files and calls on a disposed lab; the message says what is allowed. */
export class QPlayError extends Error {}

/** Settings by state-table key (dataset, architecture, learning_rate, weight_bits, ...) plus `methods`. */
export type LabSettings = Record<string, string | number | string[]>;

export interface CreateLabOptions {
  /** A URL-hash text ("dataset=moons&weight_bits=3") or an object of settings. */
  state?: string | LabSettings;
  /** Where qplay-core.js and qplay-core.wasm are, if not next to qplay.js. */
  baseUrl?: string | URL;
}

export interface RunMetrics {
  method: string;
  /** Epochs trained so far, and the epochs of the run. */
  epoch: number;
  epochs: number;
  steps: number;
  /** Why training stopped early (it diverged), or null. */
  error: string | null;
  /** Test accuracy and loss at the current quantization setting; NaN until the first read-out. */
  accuracy: number;
  loss: number;
  /**
   * Whether `accuracy` covers the whole test split and was computed on the run's weights as they are now
   * (a first read-out covers a random subset; while training, results of older weights stay readable).
   */
  evaluated: boolean;
  /**
   * Share of the test samples whose predicted class at the current setting differs from the float model's
   * (over the samples both have evaluated on the same weights; NaN until then). Accuracy hides flips that
   * cancel.
   */
  flipRate: number;
  /** The flip rate among the quarter of test samples the float model decides most narrowly; NaN until known. */
  lowMarginFlipRate: number;
  /** Test accuracy of the float model. */
  floatAccuracy: number;
  /** Accuracy against weight bits (0 = float, then 8 down to 2), with the other settings as they are. */
  /** `complete`: every point covers the whole test split, computed on the current weights. */
  curve: {weightBits: Int32Array; accuracy: Float32Array; complete: boolean};
  /**
   * What the method learned besides its weights, per layer (index into the architecture's layers; -1
   * for the whole network): CPQ's "learned weight bits", "step α" and "noise σ", SymReg's "weight
   * asymmetry" and "saturation scale c", RAQ's "spectral norm". Empty for other methods and loaded models.
   */
  readouts: {name: string; layer: number; value: number}[];
  /** CPQ with learned bits: the bit-width of each weighted layer in order (a layer_weight_bits value), else null. */
  learnedWeightBits: number[] | null;
  /** One entry per finished epoch. */
  history: {
    epoch: Float32Array;
    trainLoss: Float32Array;
    /** The method's regularizer as added to the objective, per epoch (0 for plain training). */
    trainPenalty: Float32Array;
    trainAccuracy: Float32Array;
    testLoss: Float32Array;
    testAccuracy: Float32Array;
  };
}

export interface LabMetrics {
  playing: boolean;
  finished: boolean;
  samplesPerSecond: number;
  /** The matrix kernels every run uses: 'simd128' or 'reference', on this many threads. */
  kernels: {name: string; threads: number};
  dataset: string;
  weightBits: number;
  activationBits: number;
  /**
   * The deployed size at the current setting, the same for every run (docs/methods.md, "Bit allocation
   * under a budget"): weights at their bits, one float scale per channel or tensor, float biases.
   */
  modelSize: {kilobytes: number; averageWeightBits: number; weightBitsPerLayer: Int32Array; floatKilobytes: number};
  runs: RunMetrics[];
}

export type LabEvent = 'epoch' | 'metrics' | 'finished' | 'state';

export class Lab {
  /** Parts of the initial state that were skipped, each with its reason. */
  readonly warnings: string[];
  readonly disposed: boolean;
  set(key: string, value: string | number | string[]): void;
  setState(state: LabSettings): void;
  /** The slider: 0 or 'float' means float. */
  setBits(bits: {weights?: number | 'float'; activations?: number | 'float'}): void;
  play(): void;
  pause(): void;
  step(): void;
  reset(): void;
  train(options?: {epochs?: number; budgetMs?: number}): Promise<LabMetrics>;
  settle(): Promise<LabMetrics>;
  metrics(): LabMetrics;
  exportJson(): string;
  importJson(text: string): void;
  hash(): string;
  weights(run?: number): Float32Array;
  /**
   * Chooses each weighted layer's weight bits (2..8) so the model fits a budget, in average bits per weight
   * or in KB, on one run's weights (method 'measured': greedy on measured sensitivity, 'hessian': HAWQ-v2's
   * Hessian-trace criterion, 'uniform'), and sets them as the lab's layer_weight_bits. Blocks ~10-300 ms.
   */
  allocateBits(options: {budgetBits?: number; budgetKb?: number; method?: 'measured' | 'hessian' | 'uniform';
                         run?: number}): {method: string; weightBits: number[]; kilobytes: number;
                                          averageWeightBits: number; evaluations: number;
                                          hessianVectorProducts: number; milliseconds: number};
  /** Run `run` (default 0) at the current setting as an ONNX QDQ model's bytes (docs/formats.md). */
  exportOnnx(options?: {run?: number}): Uint8Array;
  /** The same model as a qplay-integer-model object: codes, scales, zero points and grids per layer. */
  exportIntegerModel(options?: {run?: number}): IntegerModel;
  on(event: 'state', listener: (hash: string) => void): () => void;
  on(event: Exclude<LabEvent, 'state'>, listener: (metrics: LabMetrics) => void): () => void;
  off(event: LabEvent, listener: (...args: any[]) => void): void;
  dispose(): void;
}

export function createLab(options?: CreateLabOptions): Promise<Lab>;

/** One row of the engine's state table. */
export interface SettingDescription {
  key: string;
  kind: 'integer' | 'number' | 'choice' | 'text';
  /** "data", "model", "training", "method", a method's name, "quantization" or "compute". */
  group: string;
  help: string;
  /** integer and number settings. */
  min?: number;
  max?: number;
  /** choice settings. */
  choices?: string[];
  /** The value a new lab's experiment has unless the state says otherwise, as text. */
  default: string;
  /** When the setting means something ("with optimizer sgd"); absent: always. */
  appliesWhen?: string;
}

export interface MethodDescription {
  name: string;
  summary: string;
  /** Names of the readouts its runs report (RunMetrics.readouts[i].name). */
  readouts: string[];
}

/** Every setting and method, from the engine's one state table. */
export function describeSettings(options?: {baseUrl?: string | URL}): Promise<{settings: SettingDescription[]; methods: MethodDescription[]}>;

/** Which WebAssembly build this page runs: 'threads' (cross-origin isolated pages on 2+ cores), 'simd'
 *  (the default) or 'nosimd' (browsers without WebAssembly SIMD), and the kernel threads a new lab uses. */
export function describeBuild(options?: {baseUrl?: string | URL}): Promise<{name: 'threads' | 'simd' | 'nosimd'; threads: number}>;
