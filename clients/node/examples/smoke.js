// Calls every RPC of a router once and prints one JSON line per call, so a
// test (tests/it/clients.rs) can check what a Node program really gets.
// usage: node smoke.js ADDRESS MODEL
'use strict';

const { connect, request, deadline, grpc } = require('..');

const [address, model] = process.argv.slice(2);
const client = connect(address);
const print = (o) => console.log(JSON.stringify(o));

function unary(method, req) {
  return new Promise((resolve, reject) =>
    client[method](req, { deadline: deadline(30) }, (err, reply) => (err ? reject(err) : resolve(reply))));
}

function collect(call) {
  return new Promise((resolve, reject) => {
    const out = [];
    call.on('data', (m) => out.push(m));
    call.on('error', reject);
    call.on('end', () => resolve(out));
  });
}

async function main() {
  const reply = await unary('Generate', request(model, 'hello from node', 5));
  print({ call: 'generate', text: reply.text, model: reply.model,
          completion_tokens: reply.usage.completion_tokens, trace_id: reply.trace_id });

  const chunks = await collect(client.GenerateStream(request(model, 'stream to node', 4), { deadline: deadline(30) }));
  const done = chunks.find((c) => c.done);
  print({ call: 'generate_stream', deltas: chunks.map((c) => c.delta).filter((d) => d.length > 0),
          finish: done ? done.done.finish_reason : null });

  const items = [0, 1, 2].map((i) => request(model, `item ${i}`, 3));
  items.push(request('no-such-model', 'missing', 3));
  const results = (await collect(client.BatchGenerate({ items }, { deadline: deadline(30) })))
    .map((r) => ({ index: r.index, ok: r.outcome === 'response', code: r.outcome === 'error' ? r.error.code : 0 }))
    .sort((a, b) => a.index - b.index);
  print({ call: 'batch_generate', results });

  try {
    await unary('Generate', request(model, '', 0));
    print({ call: 'invalid', code: 'OK' });
  } catch (err) {
    const name = Object.keys(grpc.status).find((k) => grpc.status[k] === err.code);
    print({ call: 'invalid', code: name, details: err.details });
  }

  const stats = await unary('Stats', {});
  const models = await unary('ListModels', {});
  print({ call: 'stats', total_requests: Number(stats.total_requests), models: models.models.map((m) => m.id) });
  client.close();
}

main().catch((err) => { console.error(err); process.exit(1); });
