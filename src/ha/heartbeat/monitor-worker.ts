// Entry point of the heartbeat worker thread: wires the engine to the parent port. Kept apart from
// the main thread so that a busy data path (iSCSI on the main event loop) cannot delay beats.
import { setPriority } from 'node:os';
import { parentPort, workerData } from 'node:worker_threads';
import { HeartbeatEngine } from './engine.js';
import { LinkBindError } from './link.js';
import type { FromWorker, ToWorker, WorkerConfig } from './worker-protocol.js';

const port = parentPort;
if (!port) throw new Error('monitor-worker must run in a worker thread');

const post = (message: FromWorker): void => port.postMessage(message);
const config = workerData as WorkerConfig;
const engine = new HeartbeatEngine(config, post);

if (config.workerNice !== null) {
  // On Linux a nice value is per thread, and pid 0 means this thread: only the heartbeat is raised.
  try {
    setPriority(0, config.workerNice);
  } catch (error) {
    post({
      type: 'log',
      level: 'info',
      message: 'heartbeat thread keeps normal priority',
      fields: { wanted: config.workerNice, error: error instanceof Error ? error.message : String(error) },
    });
  }
}

port.on('message', (message: ToWorker) => engine.handle(message));

engine.start().then(
  (snapshot) => post({ type: 'ready', snapshot }),
  (error: unknown) => {
    const code = error instanceof LinkBindError ? error.code : 'EWORKER';
    post({ type: 'start-failed', code, message: error instanceof Error ? error.message : String(error) });
  },
);
