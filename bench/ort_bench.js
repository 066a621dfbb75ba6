#!/usr/bin/env node
// Times an ONNX model on ONNX Runtime's CPU execution provider (npm onnxruntime-node, installed by
// scripts/fetch_ort.sh): the reference that iris's own runtime is measured against
// (bench/runtime_vs_ort.sh). Same method as `iris bench model`: a fixed random input in [0, 1), a
// fresh session per thread count, untimed warm-up runs, then timed runs; nearest-rank percentiles.
// Prints one JSON document; can save the input and the outputs as raw float32 for accuracy checks.
'use strict';

const fs = require('fs');
const os = require('os');
const path = require('path');

const usage = `usage: node bench/ort_bench.js MODEL [--threads 1,2] [--warmup N] [--repeat N]
                              [--input-shape 1,3,640,640] [--seed N] [--load-input FILE]
                              [--save-input FILE] [--save-outputs DIR]

Session options per row: intraOpNumThreads = the row's thread count, interOpNumThreads 1,
sequential execution, graphOptimizationLevel 'all', CPU execution provider.

  --threads LIST       intra-op thread counts, comma-separated (default 1)
  --warmup N           untimed runs per row (default 5)
  --repeat N           timed runs per row (default 50)
  --input-shape LIST   the input's shape, for models that leave dimensions free
  --seed N             seed of the random input (default 1)
  --load-input FILE    raw little-endian float32 input instead of random values
  --save-input FILE    write the input fed, raw little-endian float32
  --save-outputs DIR   write each output of the last run as DIR/<output>.bin (raw float32)
env: ORT_DIR (default build/ort), where scripts/fetch_ort.sh installed onnxruntime-node.
`;

function fail(message, code = 1) {
  process.stderr.write(`ort_bench: ${message}\n`);
  process.exit(code);
}

function parseList(flag, text, lo) {
  const values = String(text).split(',').map(Number);
  if (text === undefined || values.some((v) => !Number.isInteger(v) || v < lo)) {
    fail(`${flag} needs a comma-separated list of whole numbers >= ${lo}; got '${text ?? ''}'`, 2);
  }
  return values;
}

function parseArgs(argv) {
  const a = { threads: [1], warmup: 5, repeat: 50, seed: 1 };
  for (let i = 0; i < argv.length; ++i) {
    const flag = argv[i];
    if (flag === '-h' || flag === '--help') {
      process.stdout.write(usage);
      process.exit(0);
    }
    if (!flag.startsWith('--')) {
      if (a.model) fail(`unexpected argument '${flag}' (one MODEL only)\n\n${usage}`, 2);
      a.model = flag;
      continue;
    }
    const value = argv[++i];
    if (flag === '--threads') a.threads = parseList(flag, value, 1);
    else if (flag === '--warmup') a.warmup = parseList(flag, value, 0)[0];
    else if (flag === '--repeat') a.repeat = parseList(flag, value, 1)[0];
    else if (flag === '--seed') a.seed = parseList(flag, value, 0)[0];
    else if (flag === '--input-shape') a.inputShape = parseList(flag, value, 1);
    else if (['--load-input', '--save-input', '--save-outputs'].includes(flag)) {
      if (!value) fail(`${flag} needs a path`, 2);
      a[flag.slice(2).replace(/-(.)/g, (_, c) => c.toUpperCase())] = value;
    } else fail(`unknown option '${flag}'\n\n${usage}`, 2);
  }
  if (!a.model) fail(`needs MODEL, an .onnx file\n\n${usage}`, 2);
  if (!fs.existsSync(a.model)) fail(`model '${a.model}' does not exist; fix: pass an .onnx file`, 2);
  return a;
}

function loadOrt() {
  const dir = path.resolve(process.env.ORT_DIR || path.join(__dirname, '..', 'build', 'ort'));
  try {
    return require(path.join(dir, 'node_modules', 'onnxruntime-node'));
  } catch (e) {
    fail(`cannot load onnxruntime-node from ${dir}/node_modules (${e.message.split('\n')[0]}); ` +
         'fix: run scripts/fetch_ort.sh (or set ORT_DIR to where it installed it)');
  }
}

// mulberry32: a small seeded generator, so every run (and every thread count) gets the same input.
function uniform(seed, count) {
  const out = new Float32Array(count);
  let s = seed >>> 0;
  for (let i = 0; i < count; ++i) {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = Math.imul(s ^ (s >>> 15), 1 | s);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    out[i] = ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  return out;
}

function percentile(sorted, p) {
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.max(rank, 1) - 1];
}

const round = (v) => Math.round(v * 1e4) / 1e4;

function sessionOptions(threads) {
  return {
    executionProviders: ['cpu'],
    graphOptimizationLevel: 'all',
    executionMode: 'sequential',
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
  };
}

async function main() {
  const a = parseArgs(process.argv.slice(2));
  const ort = loadOrt();
  ort.env.logLevel = 'error';  // not its warnings about initializers its optimizer left unused

  // The input's name and shape come from a first session; free dimensions need --input-shape.
  let probe;
  try {
    probe = await ort.InferenceSession.create(a.model, sessionOptions(1));
  } catch (e) {
    fail(`ONNX Runtime cannot load '${a.model}': ${e.message}`);
  }
  if (probe.inputNames.length !== 1) {
    fail(`model '${a.model}' has ${probe.inputNames.length} inputs; this benchmark feeds one`);
  }
  const meta = probe.inputMetadata[0];
  if (meta.type !== 'float32') fail(`input '${meta.name}' is ${meta.type}; this benchmark feeds float32`);
  const declared = meta.shape.map((d) => (typeof d === 'number' ? d : -1));
  const shape = a.inputShape || declared;
  if (shape.some((d) => d < 1)) {
    fail(`input '${meta.name}' [${meta.shape}] leaves dimensions free; fix: pass --input-shape`, 2);
  }
  await probe.release();
  const count = shape.reduce((x, y) => x * y, 1);
  let data;
  if (a.loadInput) {
    const bytes = fs.readFileSync(a.loadInput);
    if (bytes.length !== count * 4) {
      fail(`--load-input ${a.loadInput} has ${bytes.length} bytes; [${shape}] float32 needs ${count * 4}`, 2);
    }
    data = new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length));
  } else {
    data = uniform(a.seed, count);
  }
  if (a.saveInput) fs.writeFileSync(a.saveInput, Buffer.from(data.buffer));
  const feeds = { [meta.name]: new ort.Tensor('float32', data, shape) };

  const rows = [];
  let outputs = [];
  for (const threads of a.threads) {
    const row = { threads, inter_op_threads: 1, loadavg_before: round(os.loadavg()[0]) };
    let session;
    const t0 = performance.now();
    try {
      session = await ort.InferenceSession.create(a.model, sessionOptions(threads));
    } catch (e) {
      rows.push({ ...row, status: 'error', reason: e.message });
      continue;
    }
    row.load_ms = round(performance.now() - t0);
    const ms = [];
    let result;
    try {
      for (let i = 0; i < a.warmup + a.repeat; ++i) {
        const start = performance.now();
        result = await session.run(feeds);
        const elapsed = performance.now() - start;
        if (i >= a.warmup) ms.push(elapsed);
      }
    } catch (e) {
      rows.push({ ...row, status: 'error', reason: e.message });
      await session.release();
      continue;
    }
    ms.sort((x, y) => x - y);
    const mean = ms.reduce((x, y) => x + y, 0) / ms.length;
    rows.push({
      ...row,
      status: 'ok',
      runs: ms.length,
      p50_ms: round(percentile(ms, 50)),
      p90_ms: round(percentile(ms, 90)),
      p99_ms: round(percentile(ms, 99)),
      mean_ms: round(mean),
      min_ms: round(ms[0]),
      max_ms: round(ms[ms.length - 1]),
      samples_per_s: round((shape[0] * 1000) / mean),
      loadavg_after: round(os.loadavg()[0]),
    });
    outputs = session.outputNames.map((name) => ({ name, tensor: result[name] }));
    await session.release();
  }

  const doc = {
    runtime: 'onnxruntime',
    version: ort.env.versions.node,
    model: a.model,
    input: { name: meta.name, declared_shape: meta.shape, shape, seed: a.loadInput ? null : a.seed },
    host: { cpu: os.cpus()[0]?.model ?? 'unknown', cores: os.cpus().length, node: process.version },
    session: 'intraOpNumThreads = threads, interOpNumThreads 1, sequential, graphOptimizationLevel all, CPU EP',
    warmup: a.warmup,
    repeat: a.repeat,
    rows,
  };
  if (a.saveOutputs) {
    fs.mkdirSync(a.saveOutputs, { recursive: true });
    doc.outputs = outputs.map(({ name, tensor }) => {
      const file = path.join(a.saveOutputs, `${name.replace(/[^A-Za-z0-9_.-]/g, '_')}.bin`);
      fs.writeFileSync(file, Buffer.from(tensor.data.buffer, tensor.data.byteOffset, tensor.data.byteLength));
      return { name, type: tensor.type, shape: tensor.dims, file };
    });
  }
  process.stdout.write(`${JSON.stringify(doc, null, 2)}\n`);
  if (rows.some((r) => r.status !== 'ok')) process.exit(1);
}

main().catch((e) => fail(e.stack || String(e)));
