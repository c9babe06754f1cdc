#!/usr/bin/env bash
# qplay-cli end to end, as a person would use it: the demo, train -> sweep/eval/grad/export/allocate, and
# the messages and exit codes for bad input (2) and diverged training (1).
set -uo pipefail
cli="$1"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# pass, fail, expect and the failure count
source "$(dirname "$0")/../expect.sh"

cd "$work"
expect "demo runs the main job" 0 "float model" -- "$cli" demo --quiet=1 --epochs=5 --out_dir=demo
for f in demo/model.qmodel demo/sweep.csv demo/sweep.json demo/sweep.svg; do
  [ -s "$f" ] && pass "demo wrote $f" || fail "demo did not write $f"
done
grep -q "<svg" demo/sweep.svg && pass "sweep.svg is SVG" || fail "sweep.svg is not SVG"

expect "train saves a model" 0 "saved model to m.qmodel" -- \
  "$cli" train --dataset=moons --architecture=mlp:16,16 --epochs=3 --out=m.qmodel --quiet=1 --save_experiment=e.json
expect "train from an experiment file" 0 "saved model" -- "$cli" train --experiment=e.json --epochs=1 --out=m2.qmodel --quiet=1 \
  --weight_bits=3 --save_experiment=e3.json
printf '{"format": "qplay-experiment", "version": 1, "settings": {"dataset": "moons", "weight_bits": 99}}' > bad-bits.json
expect "sweep prints the table" 0 "weight bits" -- "$cli" sweep --model=m.qmodel --sweep_weight_bits=2-8 \
  --sweep_activation_bits=8,float --csv=s.csv --json=s.json --svg=s.svg
[ "$(wc -l < s.csv)" -eq 16 ] && pass "sweep CSV has a header, the float row and 7x2 rows" || fail "sweep CSV rows: $(wc -l < s.csv)"
# The accuracy card: well-formed XML holding the plot (its own <svg>), the settings and the numbers.
expect "sweep writes the accuracy card" 0 "wrote card.svg" -- "$cli" sweep --model=m.qmodel --sweep_weight_bits=2-8 \
  --sweep_activation_bits=float --card=card.svg
python3 -c "
import xml.etree.ElementTree as ET
root = ET.parse('card.svg').getroot()
texts = [''.join(t.itertext()) for t in root.iter('{http://www.w3.org/2000/svg}text')]
assert len(root.findall('{http://www.w3.org/2000/svg}svg')) == 1, 'one embedded plot'
plot = root.find('{http://www.w3.org/2000/svg}svg')
assert len([c for c in plot.iter('{http://www.w3.org/2000/svg}circle')]) >= 7, 'a marker per weight bit-width'
for expected in ['moons, mlp:16,16, baseline', 'Test accuracy vs weight bits', 'weight bits', 'data set', 'moons',
                 'architecture', 'granularity', 'range method', 'float accuracy', 'flip rate at W4Afloat', 'model size']:
    assert expected in texts, expected + ' missing from ' + repr(texts)
" && pass "the card parses as XML with plot, settings and numbers" || fail "the card is not what it should be"
expect "eval at 3 bits per-tensor" 0 "3-bit weights, float activations, per-tensor" -- "$cli" eval --model=m.qmodel --weight_bits=3 --granularity=per-tensor
expect "eval runs real int8 inference" 0 "agrees with fake quantization on" -- "$cli" eval --model=m.qmodel --int8=1
# An experiment file given to a model command is read: its settings evaluate the model, a bad or missing one is refused.
expect "eval reads --experiment" 0 "3-bit weights" -- "$cli" eval --model=m.qmodel --experiment=e3.json
expect "eval refuses a missing --experiment" 2 "no such file" -- "$cli" eval --model=m.qmodel --experiment=missing.json
expect "sweep refuses a bad --experiment" 2 "weight_bits must be" -- "$cli" sweep --model=m.qmodel --experiment=bad-bits.json
expect "compare refuses a seed --seed would refuse" 2 "seed must be an integer from 0 to 4294967295" -- \
  "$cli" compare --dataset=moons --epochs=1 --methods=baseline --seeds=1,4294967296
expect "a batch too large for memory is refused before allocating" 2 "use batch_size at most" -- \
  "$cli" train --dataset=fashion-mnist --train_limit=100 --test_limit=100 --architecture=cnn:400,400 --batch_size=4096
expect "a model path that never ends is refused at the size limit" 2 "larger than a QPlay model file can be" -- \
  "$cli" eval --model=/dev/zero
expect "an experiment path that never ends is refused at the size limit" 2 "larger than an experiment file can be" -- \
  "$cli" train --experiment=/dev/zero
"$cli" eval --model=missing.qmodel > missing.txt 2>&1
[ "$(grep -o 'missing.qmodel' missing.txt | wc -l)" = 1 ] && pass "a missing model is named once" || fail "a missing model is named $(grep -o 'missing.qmodel' missing.txt | wc -l) times: $(cat missing.txt)"
expect "grad writes JSON" 0 "" -- "$cli" grad --model=m.qmodel --batch_size=8 --out=g.json
python3 -c "import json,sys; d=json.load(open('g.json')); assert d['format']=='qplay-gradients' and len(d['gradients'])==6 and len(d['labels'])==8" \
  && pass "grad JSON has 6 gradient tensors and 8 labels" || fail "grad JSON content"
expect "grad computes the chosen method's objective" 0 "" -- "$cli" grad --model=m.qmodel --batch_size=8 --method=gradl1 \
  --gradl1_lambda_weights=0.05 --out=g2.json
python3 -c "import json; a=json.load(open('g.json')); b=json.load(open('g2.json'))
assert a['method']=='baseline' and a['penalty']==0 and b['method']=='gradl1' and b['penalty']>0
assert b['method_settings']['gradl1_lambda_weights']=='0.05' and b['total_loss']==b['loss']+b['penalty']
assert a['gradients'][0]['values']!=b['gradients'][0]['values']" \
  && pass "grad names the method, its knobs, the penalty, and the gradients change" || fail "grad --method content"
expect "export writes weights JSON" 0 "" -- "$cli" export --model=m.qmodel --out=w.json
expect "export refuses settings it would ignore" 2 "does not take" -- "$cli" export --model=m.qmodel --learning_rate=0.1
python3 -c "import json; d=json.load(open('w.json')); assert d['format']=='qplay-weights'" \
  && pass "export JSON format" || fail "export JSON format"
expect "export writes an ONNX QDQ model" 0 "wrote" -- "$cli" export --model=m.qmodel --format=onnx --weight_bits=4 \
  --activation_bits=8 --out=m.onnx
python3 -c "d=open('m.onnx','rb').read(); assert d[:2]==bytes([8,7]) and b'QuantizeLinear' in d and b'logits' in d" \
  && pass "ONNX file: IR version 7, QDQ nodes, a logits output" || fail "ONNX file content"
expect "export writes the integer model" 0 "wrote" -- "$cli" export --model=m.qmodel --format=integer-json \
  --weight_bits=8 --layer_weight_bits=8,3,float --activation_bits=6 --out=i.json
python3 -c "import json; d=json.load(open('i.json')); w=[l for l in d['layers'] if 'weights' in l]
assert d['format']=='qplay-integer-model' and [l['weights']['bits'] for l in w]==[8,3,0]
assert w[0]['input_activation'] is None and w[1]['input_activation']['bits']==6" \
  && pass "integer JSON: per-layer bits and activation grids" || fail "integer JSON content"
expect "export refuses a wrong layer count" 2 "weighted layers" -- "$cli" export --model=m.qmodel --format=onnx \
  --layer_weight_bits=8,4
expect "export refuses an unknown format" 2 "weights-json, onnx or integer-json" -- "$cli" export --model=m.qmodel \
  --format=tflite
expect "weights JSON refuses per-layer bits" 2 "needs --format=onnx" -- "$cli" export --model=m.qmodel \
  --layer_weight_bits=8,4,8
expect "eval writes its predictions" 0 "" -- "$cli" eval --model=m.qmodel --weight_bits=4 --predictions=p.json
python3 -c "import json; d=json.load(open('p.json')); assert d['format']=='qplay-predictions' and len(d['predictions'])==len(d['labels'])>0" \
  && pass "predictions JSON: one class per test sample" || fail "predictions JSON content"

expect "compare trains every method from the same seeds" 0 "weights per-channel" -- "$cli" compare --dataset=moons \
  --samples=300 --epochs=3 --seeds=2 --methods=baseline,gradl1,qreg --compare_weight_bits=8,4,2 \
  --csv=c.csv --json=c.json --svg=c.svg
[ "$(wc -l < c.csv)" -eq 289 ] && pass "compare CSV: header + 3 methods x 2 seeds x (float accuracy and loss + 3 bits x 2 granularities x (accuracy, loss, flips, low-margin flips, first-order term and bound) + 3 FGSM eps x 2 + train/test accuracy and loss)" \
  || fail "compare CSV rows: $(wc -l < c.csv)"
python3 -c "import json; d=json.load(open('c.json')); assert d['format']=='qplay-comparison' and len(d['runs'])==6" \
  && pass "compare JSON has 6 runs" || fail "compare JSON content"
grep -q "<svg" c.svg && pass "compare plot is SVG" || fail "compare plot is not SVG"
expect "compare refuses an unknown method" 2 "unknown method 'magic' (use baseline" -- "$cli" compare --methods=baseline,magic
expect "compare refuses a bad seed count" 2 "--seeds must be a count" -- "$cli" compare --seeds=0
expect "compare refuses a bad attack size" 2 "is not an attack size" -- "$cli" compare --fgsm_epsilons=0.1,big
expect "compare checks each method's knobs first" 2 "gradl1" -- "$cli" compare --methods=gradl1 --gradl1_warmup=2

# allocate: per-layer bits under a budget, each method evaluated; --pareto sweeps 13 budgets per method.
expect "allocate under 3 bits per weight" 0 "hessian" -- "$cli" allocate --model=m.qmodel --budget_bits=3 \
  --allocation_samples=200 --hutchinson_samples=8 --out=a.json --svg=a.svg
python3 - a.json <<'PY' && pass "allocate JSON: three methods, each within 3 bits, one bit-width per weighted layer" \
  || fail "allocate JSON content"
import json, sys
a = json.load(open(sys.argv[1]))
rows = a["allocations"]
assert a["format"] == "qplay-allocation" and sorted(r["method"] for r in rows) == ["hessian", "measured", "uniform"]
assert all(r["average_bits"] <= 3 + 1e-9 and len(r["weight_bits"]) == len(a["layers"]) == 3 for r in rows)
assert all(2 <= b <= 8 for r in rows for b in r["weight_bits"]) and all(0 <= r["test_accuracy"] <= 1 for r in rows)
PY
grep -q "<svg" a.svg && pass "allocate plot is SVG" || fail "allocate plot is not SVG"
expect "allocate sweeps budgets with --pareto" 0 "front" -- "$cli" allocate --model=m.qmodel --pareto=1 \
  --allocation=uniform,measured --allocation_samples=200 --out=p.csv
[ "$(wc -l < p.csv)" -eq 27 ] && pass "allocate CSV: header + 2 methods x 13 budgets" || fail "allocate CSV rows: $(wc -l < p.csv)"
expect "allocate refuses a budget below 2 bits" 2 "2 bits per weight" -- "$cli" allocate --model=m.qmodel --budget_bits=1.5
expect "allocate refuses a NaN budget" 2 "smallest allocation" -- "$cli" allocate --model=m.qmodel --budget_kb=nan
expect "allocate refuses an unknown method" 2 "unknown method 'greedy'" -- "$cli" allocate --model=m.qmodel --allocation=greedy

# Bad input: exit 2 with a message that says what is allowed.
expect "unknown command" 2 "unknown command 'trian'" -- "$cli" trian
expect "unknown setting suggests" 2 "did you mean 'learning_rate'" -- "$cli" train --learning_rat=0.1
expect "out-of-range value" 2 "learning_rate must be a number from" -- "$cli" train --learning_rate=99
expect "bad choice" 2 "dataset must be one of spiral" -- "$cli" train --dataset=mnist
expect "bad architecture" 2 "unknown family" -- "$cli" train --architecture=rnn:3
expect "cnn on 2-D data" 2 "needs image data" -- "$cli" train --architecture=cnn:8
expect "bad bit list" 2 "is not a bit-width" -- "$cli" sweep --model=m.qmodel --sweep_weight_bits=2-9
expect "missing model flag" 2 "missing --model" -- "$cli" sweep
expect "missing model file" 2 "nope.qmodel" -- "$cli" eval --model=nope.qmodel
head -c 100 m.qmodel > truncated.qmodel
expect "truncated model" 2 "truncated" -- "$cli" eval --model=truncated.qmodel
cp m.qmodel corrupt.qmodel
printf '\x55' | dd of=corrupt.qmodel bs=1 seek=300 conv=notrunc 2>/dev/null
expect "corrupt model" 2 "checksum" -- "$cli" eval --model=corrupt.qmodel
echo "not json" > bad.json
expect "bad experiment file" 2 "bad.json" -- "$cli" train --experiment=bad.json
expect "model on the wrong data" 2 "the model expects" -- "$cli" eval --model=m.qmodel --dataset=fashion-mnist
expect "divergence names the learning rate" 1 "learning rate" -- \
  "$cli" train --architecture=mlp:64,64,64 --learning_rate=10 --momentum=0.999 --schedule=constant --epochs=5 --quiet=1 --out=nan.qmodel

[ "$failures" -eq 0 ] && echo "all cli checks passed" || echo "$failures cli checks failed"
exit "$failures"
