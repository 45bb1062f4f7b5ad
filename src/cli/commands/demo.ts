// `tandem demo`: a two-node failover pair on this one machine. It starts two daemons (node A and B,
// each with its own data dir and ports), pairs them, makes a replicated 256 MiB volume exported by
// the same target on both, puts a loopback virtual IP (127.0.0.100:3260) in front, starts failover
// with A active, and prints how to watch a failover happen. Everything is configured through each
// daemon's REST API, as an administrator would. Ctrl-C stops both nodes.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { Command, InvalidArgumentError } from 'commander';
import { ApiClient } from '../client.js';

const TANDEM_BIN = fileURLToPath(new URL('../../../bin/tandem', import.meta.url));
const TASK = 'demo';
const VOLUME = 'demo';
const IQN = 'iqn.2026-11.local.tandem:demo';

interface DemoNode {
  readonly name: string;
  readonly dataDir: string;
  readonly api: string;
  readonly iscsi: string;
  readonly replication: string;
  readonly heartbeat: { readonly data: string; readonly aux: string };
  child?: ChildProcess;
  client?: ApiClient;
}

function portArg(text: string): number {
  if (!/^\d{1,5}$/.test(text) || Number(text) < 1024 || Number(text) > 65_000) {
    throw new InvalidArgumentError('a base port from 1024 to 65000');
  }
  return Number(text);
}

function vipArg(text: string): string {
  const m = /^127\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(text);
  if (!m || m.slice(1).some((o) => Number(o) > 255) || text === '127.0.0.1') {
    throw new InvalidArgumentError('the demo virtual IP is an address in 127.0.0.0/8 other than 127.0.0.1');
  }
  return text;
}

export function demoCommand(): Command {
  return new Command('demo')
    .description(
      'start a two-node failover pair on this machine (loopback virtual IP) and show how to watch a failover',
    )
    .option('--dir <dir>', 'where the two nodes keep their data', 'var-demo')
    .option(
      '--base-port <port>',
      'first of the ports the demo uses (API, iSCSI, replication, heartbeat)',
      portArg,
      18080,
    )
    .option('--vip <address>', 'the virtual IP (127.0.0.0/8)', vipArg, '127.0.0.100')
    .option('--vip-port <port>', 'iSCSI port on the virtual IP', portArg, 3260)
    .option('--json', 'print one JSON line with the pair (pids, addresses, password) once it is ready')
    .action(
      async (options: { dir: string; basePort: number; vip: string; vipPort: number; json?: boolean }) => {
        await runDemo(options);
      },
    );
}

async function runDemo(options: {
  dir: string;
  basePort: number;
  vip: string;
  vipPort: number;
  json?: boolean;
}): Promise<void> {
  const root = resolve(options.dir);
  const p = options.basePort;
  const password = process.env.TANDEM_ADMIN_PASSWORD ?? randomBytes(12).toString('base64url');
  const secret = randomBytes(24).toString('base64url');
  const nodes: [DemoNode, DemoNode] = [
    {
      name: 'demo-a',
      dataDir: `${root}/a`,
      api: `127.0.0.1:${p}`,
      iscsi: `127.0.0.1:${p + 2}`,
      replication: `127.0.0.1:${p + 4}`,
      heartbeat: { data: `127.0.0.1:${p + 6}`, aux: `127.0.0.1:${p + 8}` },
    },
    {
      name: 'demo-b',
      dataDir: `${root}/b`,
      api: `127.0.0.1:${p + 1}`,
      iscsi: `127.0.0.1:${p + 3}`,
      replication: `127.0.0.1:${p + 5}`,
      heartbeat: { data: `127.0.0.1:${p + 7}`, aux: `127.0.0.1:${p + 9}` },
    },
  ];
  const [a, b] = nodes;
  const say = (text: string): void => {
    if (options.json !== true) process.stdout.write(`${text}\n`);
  };
  const stopAll = (): void => {
    for (const node of nodes) node.child?.kill('SIGTERM');
  };
  process.once('SIGINT', stopAll);
  process.once('SIGTERM', stopAll);

  for (const node of nodes) {
    mkdirSync(node.dataDir, { recursive: true });
    const child = spawn(
      process.execPath,
      [
        TANDEM_BIN,
        'serve',
        '--data',
        node.dataDir,
        '--api',
        node.api,
        '--iscsi',
        node.iscsi,
        '--replication',
        node.replication,
        '--node-name',
        node.name,
      ],
      { env: { ...process.env, TANDEM_ADMIN_PASSWORD: password }, stdio: ['ignore', 'ignore', 'inherit'] },
    );
    node.child = child;
    node.client = new ApiClient({
      describe: node.api,
      baseUrl: new URL(`http://${node.api}`),
      authorization: `Basic ${Buffer.from(`admin:${password}`).toString('base64')}`,
    });
  }
  const client = (node: DemoNode): ApiClient => {
    if (!node.client) throw new Error('not started');
    return node.client;
  };
  for (const node of nodes) await waitForApi(client(node));
  say(
    `two nodes up: ${a.name} (API http://${a.api}) and ${b.name} (API http://${b.api}), password ${password}`,
  );

  // Volume replication: A's volume is the source, B's the destination; one task, started.
  for (const [node, peer] of [
    [a, b],
    [b, a],
  ] as const) {
    await client(node).call('PUT', '/api/v1/replication/pairing', { peerName: peer.name, secret });
  }
  for (const [node, peer, mode] of [
    [a, b, 'source'],
    [b, a, 'destination'],
  ] as const) {
    await ignoreConflict(
      client(node).post('/api/v1/volumes', {
        name: VOLUME,
        type: 'iscsi',
        size: '256MiB',
        replication: true,
      }),
    );
    await client(node).call('PUT', `/api/v1/volumes/${VOLUME}/replication`, {
      mode,
      mirrorServer: peer.replication,
    });
  }
  await ignoreConflict(
    client(a).post('/api/v1/replication/tasks', { name: TASK, volume: VOLUME, remoteVolume: VOLUME }),
  );
  await client(a).post(`/api/v1/replication/tasks/${TASK}/start`, {});
  say('volume replication: initial sync of 256 MiB ...');
  await waitFor(async () => {
    const s = await client(a).get<{ connection: string; peerDiskState: string }>(
      `/api/v1/replication/tasks/${TASK}`,
    );
    return s.connection === 'connected' && s.peerDiskState === 'up-to-date';
  }, 120_000);

  // Failover settings first (they let B's destination volume be mapped), then identical targets.
  for (const [node, peer] of [
    [a, b],
    [b, a],
  ] as const) {
    await client(node).call('PUT', '/api/v1/failover/config', {
      dataLocal: node.heartbeat.data,
      dataPeer: peer.heartbeat.data,
      auxLocal: node.heartbeat.aux,
      auxPeer: peer.heartbeat.aux,
      pingNodes: ['127.0.0.53'],
      tasks: [TASK],
      portalPort: options.vipPort,
      enabled: true,
    });
    await client(node).call('PUT', '/api/v1/network/nics/lo', { role: 'data' });
    await client(node).call('PUT', '/api/v1/network/virtual-ip', {
      address: options.vip,
      prefixLength: 32,
      nic: 'lo',
      driver: 'loopback',
    });
    await ignoreConflict(
      client(node).post('/api/v1/targets', {
        iqn: IQN,
        luns: [{ lun: 1, volume: VOLUME, serial: 'TANDEMDEMO0001', naa: '6001405a1b2c3d4e5f60718293a4b5c6' }],
      }),
    );
  }
  say('failover: waiting for the heartbeat on both links ...');
  await waitFor(async () => {
    const checks = (await client(a).post<{ checks: { ok: boolean }[] }>('/api/v1/failover/preflight', {}))
      .checks;
    return checks.every((c) => c.ok);
  }, 30_000);
  await client(a).post('/api/v1/failover/start', {});
  await waitFor(async () => {
    const s = await client(b).get<{ started: boolean; state: string }>('/api/v1/failover');
    return s.started && s.state === 'passive';
  }, 15_000);

  const url = `iscsi://${options.vip}:${String(options.vipPort)}/${IQN}/1`;
  if (options.json === true) {
    process.stdout.write(
      `${JSON.stringify({ ready: true, password, url, nodes: nodes.map((n) => ({ name: n.name, pid: n.child?.pid, api: `http://${n.api}`, dataDir: n.dataDir })) })}\n`,
    );
  }
  say(
    [
      '',
      `ready: ${a.name} is active and serves ${url} on the virtual IP; ${b.name} is passive.`,
      '',
      'Watch it (another terminal):',
      `  export TANDEM_PASSWORD=${password}`,
      `  watch -n1 bin/tandem --api http://${b.api} failover status`,
      `  qemu-io -c 'write -P 0x5a 0 1M' -c 'read -P 0x5a 0 1M' ${url}`,
      '',
      'Make a failover happen:',
      `  kill -9 ${String(a.child?.pid)}              # ${a.name} dies; ${b.name} takes over within a few seconds`,
      `  bin/tandem --api http://${a.api} failover manual   # or hand over gracefully`,
      '',
      'Ctrl-C stops both nodes.',
    ].join('\n'),
  );
  await Promise.all(nodes.map((n) => new Promise((done) => n.child?.once('exit', done))));
}

async function waitForApi(client: ApiClient): Promise<void> {
  await waitFor(async () => {
    await client.get('/api/v1/node');
    return true;
  }, 30_000);
}

async function waitFor(check: () => Promise<boolean>, ms: number): Promise<void> {
  const until = Date.now() + ms;
  let last: unknown;
  while (Date.now() < until) {
    try {
      if (await check()) return;
    } catch (error) {
      last = error;
    }
    await sleep(250);
  }
  throw new Error(`the demo did not get ready in time${last instanceof Error ? `: ${last.message}` : ''}`);
}

async function ignoreConflict(call: Promise<unknown>): Promise<void> {
  try {
    await call;
  } catch (error) {
    if (!(error instanceof Error) || !/exists|already/.test(error.message)) throw error;
  }
}
