/** Child-process entry: starts the bench servers and reports their URLs to the parent over IPC. */
import { startServers } from './servers.js';

const servers = await startServers();
process.send?.({
  tokenEndpoint: servers.tokenEndpoint,
  issuer: servers.issuer,
  resourceUrl: servers.resourceUrl,
});

let closing = false;
const shutdown = () => {
  if (closing) return;
  closing = true;
  servers.close().then(
    () => process.exit(0),
    () => process.exit(1),
  );
};
process.on('message', (m) => {
  if (m === 'close') shutdown();
});
// The parent went away (crash or Ctrl-C): do not linger.
process.on('disconnect', shutdown);
