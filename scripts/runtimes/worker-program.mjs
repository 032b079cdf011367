/**
 * The matrix program for Workers: bundled by matrix.ts exactly as a user's worker would be
 * (`esbuild --bundle --platform=browser --conditions=workerd,worker,browser`, nothing else) and run in
 * workerd through Miniflare. POST the matrix config to it; it answers with the results.
 */
import * as m2m from 'm2m-token';
import { runCells } from './client-cells.mjs';

const host = {
  mtls: 'refused',
  requireEntry: () => {
    throw new Error('no require in a worker');
  },
};

export default {
  async fetch(request) {
    const config = await request.json();
    return Response.json(await runCells(m2m, config, host));
  },
};
