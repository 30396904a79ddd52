// The playground's worker: long computations (the staleness curve over 1,000 seeds, every conflict strategy side by
// side, sweeps) run here so that the page keeps drawing. It runs the same wasm module as the page: the page posts
// the compiled module and the URL of its JS glue once, at start-up (before the page locks itself down, see
// index.html), and then jobs as JSON text; src/jobs.rs answers each with JSON text.
let ready = null;
onmessage = async (event) => {
  const msg = event.data;
  if (msg.init) {
    ready = import(msg.init.js)
      .then(async (glue) => { await glue.default({ module_or_path: msg.init.module }); return glue; });
    ready.then(() => postMessage({ ready: true }), (e) => postMessage({ failed: String(e) }));
    return;
  }
  let out;
  try {
    const glue = await ready;
    out = glue.worker_job(msg.job);
  } catch (e) {
    out = JSON.stringify({ error: 'the worker failed: ' + e });
  }
  postMessage({ id: msg.id, out });
};
